/* C prototypes of the assembler exports, as arch/x86/include/asm/asm-prototypes.h
 * provides them to the <obj>.gendwarfksyms.o stand-ins. */
#include <stddef.h>
void *mb_memcpy(void *dest, const void *src, size_t len);
void *mb_memset(void *dest, int c, size_t len);
extern unsigned long mb_copy_table[8];
