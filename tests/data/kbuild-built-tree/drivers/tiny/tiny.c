#include "export.h"
#include "types.h"

int tiny_probe(struct demo_dev *dev)
{
	return dev->flags;
}
EXPORT_SYMBOL_FOR_MODULES(tiny_probe, "demo");
