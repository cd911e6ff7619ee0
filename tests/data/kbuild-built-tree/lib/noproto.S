/* An assembler export with no stand-in beside it: nothing versions it. */
#include "export.h"
	.text
	.globl mb_orphan
	.type mb_orphan, @function
mb_orphan:
	ret
	.size mb_orphan, .-mb_orphan
EXPORT_SYMBOL(mb_orphan)
