/* Built into vmlinux: a library object. */
#include "../include/demo.h"
#include "../include/export.h"

size_t demo_buf_total(const struct demo_buf *buf)
{
	size_t n = 0;
	for (; buf; buf = buf->next)
		n += buf->len;
	return n;
}
EXPORT_SYMBOL(demo_buf_total);

int demo_sum(int count, ...)
{
	return count;
}
EXPORT_SYMBOL(demo_sum);
