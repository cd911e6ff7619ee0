/* Module "drivers/demo/demo", second of its two objects. */
#include "../../include/demo.h"
#include "../../include/export.h"

const char *const demo_state_names[] = { "idle", "busy", "done" };
EXPORT_SYMBOL(demo_state_names);

void demo_queue(struct demo_dev *dev, struct demo_buf *buf)
{
	buf->next = dev->queue;
	dev->queue = buf;
}
EXPORT_SYMBOL_NS_GPL(demo_queue, DEMO_INTERNAL);
