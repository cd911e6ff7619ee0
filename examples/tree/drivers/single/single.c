/* Module "drivers/single/single": one object. */
#include "../../include/demo.h"
#include "../../include/export.h"

extern int demo_register(struct demo_dev *dev);

int single_probe(struct demo_dev *dev)
{
	return demo_register(dev);
}
EXPORT_SYMBOL_GPL(single_probe);
