/* Types the test tree's exports use. */
#ifndef MB_TYPES_H
#define MB_TYPES_H
#include <stddef.h>

struct resource {
	unsigned long start, end;
	const char *name;
	unsigned long flags;
	struct resource *parent, *sibling, *child;
};

struct ucounts {
	int id;
	long counts[4];
	struct ucounts *next;
};

enum demo_mode { DEMO_OFF, DEMO_ON = 4 };

struct demo_dev {
	const char *name;
	enum demo_mode mode;
	unsigned int flags : 3;
	int (*probe)(struct demo_dev *dev);
};
#endif
