#include "shapes.h"

struct priv { int p; };             /* defined in a .c file: private */
typedef struct priv priv_t;         /* typedefs in a .c file are still expanded */
typedef long local_long;

int f_node(struct node *n) { return 0; }
int f_enum(enum neg e, union value v) { return 0; }
void f_arrays(struct arrays *a, struct flex *f, struct zero *z) {}
void f_quals(struct quals *q) {}
int f_cb(cb_t cb, void (*raw)(void)) { return 0; }
void f_priv(struct priv *p, priv_t *q, local_long l) {}
int f_var(int a, ...) { return a; }
int f_novar(int a) { return a; }
void f_params(void) {}

struct anon_holder anon_var;
long counter;
const char *const names[] = { "a", "b" };
int Zeta;

int real_fn(int x) { return x; }
int alias_fn(int x) __attribute__((alias("real_fn")));
