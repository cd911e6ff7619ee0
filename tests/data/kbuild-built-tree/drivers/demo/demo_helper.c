#include "export.h"
#include "types.h"

const char *demo_name(const struct demo_dev *dev)
{
	return dev->name;
}
EXPORT_SYMBOL(demo_name);
