#include "export.h"
#include "types.h"

extern int tiny_probe(struct demo_dev *dev);

int demo_register(struct demo_dev *dev)
{
	dev->probe = tiny_probe;
	return dev->mode == DEMO_ON;
}
EXPORT_SYMBOL_NS_GPL(demo_register, DEMO_CORE);
