/* Types gcc moves into type units with -fdebug-types-section. */
struct inner { int a; long b; };
struct outer { struct inner *p; struct inner copy; };

int tu_fn(struct outer *x) { return x->copy.a; }
struct outer tu_var;
