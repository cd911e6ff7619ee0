/* Module "drivers/demo/demo", first of its two objects. */
#include "../../include/demo.h"
#include "../../include/export.h"

struct demo_private { int secret; };

int demo_open(struct demo_dev *dev, unsigned int mode)
{
	dev->users++;
	return (int)mode;
}
EXPORT_SYMBOL_GPL(demo_open);

struct demo_private *demo_private_get(struct demo_dev *dev)
{
	return (struct demo_private *)dev->queue;
}
EXPORT_SYMBOL(demo_private_get);
