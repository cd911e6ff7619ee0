/* Linux 7.x's EXPORT_SYMBOL* (include/linux/export.h), reduced to what the
 * tests need: a label __export_symbol_<sym> in .export_symbol holding the
 * license and namespace strings (so an entry is 16, 24 or 32 bytes and more)
 * and a reference to the symbol; in C also the __gendwarfksyms_ptr_<sym>
 * pointer gendwarfksyms falls back on. */
#ifndef MB_EXPORT_H
#define MB_EXPORT_H

#ifdef __ASSEMBLER__
#define ___EXPORT_SYMBOL(sym, license, ns)	\
	.section ".export_symbol","a" ;		\
	__export_symbol_##sym: ;		\
	.asciz license ;			\
	.asciz ns ;				\
	.balign 8 ;				\
	.quad sym ;				\
	.previous
#else
#define __stringify_1(x) #x
#define __stringify(x) __stringify_1(x)
#define ___EXPORT_SYMBOL(sym, license, ns)					\
	extern typeof(sym) sym;							\
	static typeof(sym) *__gendwarfksyms_ptr_##sym				\
		__attribute__((used, section(".discard.gendwarfksyms"))) = &sym;	\
	asm(".section \".export_symbol\",\"a\"\n"				\
	    "__export_symbol_" #sym ":\n"					\
	    ".asciz \"" license "\"\n"						\
	    ".asciz \"" ns "\"\n"						\
	    ".balign 8\n"							\
	    ".quad " #sym "\n"							\
	    ".previous\n")
#endif

#define EXPORT_SYMBOL(sym) ___EXPORT_SYMBOL(sym, "", "")
#define EXPORT_SYMBOL_GPL(sym) ___EXPORT_SYMBOL(sym, "GPL", "")
#define EXPORT_SYMBOL_NS(sym, ns) ___EXPORT_SYMBOL(sym, "", ns)
#define EXPORT_SYMBOL_NS_GPL(sym, ns) ___EXPORT_SYMBOL(sym, "GPL", ns)
#define EXPORT_SYMBOL_FOR_MODULES(sym, mods) ___EXPORT_SYMBOL(sym, "GPL", "module:" mods)

#endif
