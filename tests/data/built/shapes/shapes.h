typedef unsigned int u32;

struct inner;                       /* declaration only */

enum color { RED, GREEN, BLUE };
enum neg { NEG = -1, POS = 1 };     /* printed as unsigned 64-bit */

struct node {
	struct node *next;              /* recursion */
	struct inner *in;
	u32 flags : 3;                  /* bitfields */
	u32 mode : 5;
	enum color c;
};

union value { int i; float f; };

struct arrays { int m[2][3]; };
struct flex { int n; int data[]; };
struct zero { int n; int data[0]; };

struct quals {
	const int c;
	volatile int v;
	int *restrict r;
	_Atomic int a;
	const volatile char cv;
};

typedef int (*cb_t)(int, char *);

struct anon_holder {
	struct { int a; } s;            /* anonymous struct type, named member */
	union { int x; long y; };       /* anonymous union member */
};

struct in_anon { int a; };
struct { struct in_anon a; } anon_top;  /* variable of an anonymous struct type */
