#define EXPORT(sym) \
	static typeof(sym) *__gendwarfksyms_ptr_##sym \
		__attribute__((used, section(".discard.gendwarfksyms"))) = &sym

/* Defined elsewhere: gcc emits a declaration DIE (no parameter names). */
extern void f(unsigned int);
EXPORT(f);

/* Defined here, with a named parameter. */
void g(unsigned int count) {}
EXPORT(g);

extern long ext_var;
EXPORT(ext_var);

/* Only a symbol pointer, no DIE named h or pv at all. */
static void (*__gendwarfksyms_ptr_h)(unsigned int)
	__attribute__((used, section(".discard.gendwarfksyms")));
static long *__gendwarfksyms_ptr_pv __attribute__((used, section(".discard.gendwarfksyms")));
