/* Assembler exports: kbuild versions them from memcpy_fast.gendwarfksyms.o. */
#include "export.h"
	.text
	.globl mb_memcpy
	.type mb_memcpy, @function
mb_memcpy:
	movq %rdi, %rax
	movq %rdx, %rcx
	rep movsb
	ret
	.size mb_memcpy, .-mb_memcpy
EXPORT_SYMBOL(mb_memcpy)

	.globl mb_memset
	.type mb_memset, @function
mb_memset:
	movq %rdi, %r9
	movb %sil, %al
	movq %rdx, %rcx
	rep stosb
	movq %r9, %rax
	ret
	.size mb_memset, .-mb_memset
EXPORT_SYMBOL_GPL(mb_memset)

	.data
	.globl mb_copy_table
	.type mb_copy_table, @object
mb_copy_table:
	.zero 64
	.size mb_copy_table, 64
EXPORT_SYMBOL(mb_copy_table)
