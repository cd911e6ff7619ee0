/* Emulates Linux 6.14's EXPORT_SYMBOL*: a label __export_symbol_<sym> in
 * .export_symbol holding the license and namespace strings and a reference
 * to the symbol, plus (in C) the __gendwarfksyms_ptr_<sym> variable
 * gendwarfksyms falls back on.  Namespaces make an entry longer than 16
 * bytes; 7.x's EXPORT_SYMBOL_FOR_MODULES uses the namespace "module:<mods>". */
#ifndef EXAMPLE_EXPORT_H
#define EXAMPLE_EXPORT_H

#ifdef __ASSEMBLER__
#define __EXPORT(sym, license, ns)                                             \
	.section ".export_symbol","a" ;                                        \
	__export_symbol_##sym: ;                                               \
	.asciz license ;                                                       \
	.asciz ns ;                                                            \
	.balign 8 ;                                                            \
	.quad sym ;                                                            \
	.previous
#else
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
#endif

#define EXPORT_SYMBOL(sym) __EXPORT(sym, "", "")
#define EXPORT_SYMBOL_GPL(sym) __EXPORT(sym, "GPL", "")
#define EXPORT_SYMBOL_NS_GPL(sym, ns) __EXPORT(sym, "GPL", #ns)
#define EXPORT_SYMBOL_FOR_MODULES(sym, mods) __EXPORT(sym, "GPL", "module:" mods)

#endif
