/* Built into vmlinux: core helpers. */
#include "../include/demo.h"
#include "../include/export.h"

int demo_core_version = 3;
EXPORT_SYMBOL(demo_core_version);

int demo_register(struct demo_dev *dev)
{
	dev->state = DEMO_IDLE;
	return dev->name ? 0 : -22;
}
EXPORT_SYMBOL_GPL(demo_register);

void demo_unregister(struct demo_dev *dev)
{
	dev->state = DEMO_DONE;
}
EXPORT_SYMBOL_GPL(demo_unregister);

demo_cookie_t demo_cookie(const struct demo_dev *dev)
{
	return (demo_cookie_t)dev ^ 0x5a5a;
}
EXPORT_SYMBOL_NS_GPL(demo_cookie, DEMO_INTERNAL);
