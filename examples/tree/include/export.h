/* Emulates Linux 6.14's EXPORT_SYMBOL*: a label __export_symbol_<sym> in
 * .export_symbol holding the license and namespace strings and a reference
 * to the symbol, plus the __gendwarfksyms_ptr_<sym> variable gendwarfksyms
 * falls back on. */
#ifndef EXAMPLE_EXPORT_H
#define EXAMPLE_EXPORT_H

#define __EXPORT(sym, license, ns)                                             \
	extern typeof(sym) sym;                                                \
	static typeof(sym) *__gendwarfksyms_ptr_##sym                          \
		__attribute__((used, section(".discard.gendwarfksyms"))) = &sym; \
	asm(".section \".export_symbol\",\"a\"\n"                              \
	    "__export_symbol_" #sym ":\n"                                      \
	    ".asciz \"" license "\"\n"                                         \
	    ".asciz \"" ns "\"\n"                                              \
	    ".balign 8\n"                                                      \
	    ".quad " #sym "\n"                                                 \
	    ".previous\n")

#define EXPORT_SYMBOL(sym) __EXPORT(sym, "", "")
#define EXPORT_SYMBOL_GPL(sym) __EXPORT(sym, "GPL", "")
#define EXPORT_SYMBOL_NS_GPL(sym, ns) __EXPORT(sym, "GPL", #ns)

#endif
