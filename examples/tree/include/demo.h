/* Types shared by the example tree's objects. */
#ifndef EXAMPLE_DEMO_H
#define EXAMPLE_DEMO_H
#include <stddef.h>

enum demo_state { DEMO_IDLE, DEMO_BUSY, DEMO_DONE };

struct demo_buf {
	unsigned char *data;
	size_t len;
	struct demo_buf *next;
};

struct demo_dev {
	const char *name;
	enum demo_state state;
	unsigned int flags : 4;
	unsigned int users : 12;
	struct demo_buf *queue;
	int (*open)(struct demo_dev *dev, unsigned int mode);
	void (*release)(struct demo_dev *dev);
	long counters[4];
};

typedef unsigned long demo_cookie_t;
#endif
