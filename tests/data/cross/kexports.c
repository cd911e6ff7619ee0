/* kabi_cases.c with kernel-style exports (Linux 6.5+ EXPORT_SYMBOL*): a
 * label __export_symbol_<name> in section .export_symbol pointing at the
 * license string ("GPL" or "") and the namespace string, so the objects
 * also form a kbuild-built tree for `batchver run`. */
#include "kabi_cases.c"

#define KEXPORT(sym, license, ns)                                              \
	asm(".section .export_symbol,\"a\"\n"                                  \
	    "__export_symbol_" #sym ":\n"                                      \
	    ".asciz \"" license "\"\n"                                         \
	    ".asciz \"" ns "\"\n"                                              \
	    ".previous\n")

KEXPORT(node_walk, "GPL", "");
KEXPORT(node_color, "", "");
KEXPORT(node_template, "GPL", "NODES");
KEXPORT(node_names, "", "NODES");
KEXPORT(asm_defined_helper, "GPL", "");
KEXPORT(node_flag, "", "");
