#include "export.h"

unsigned long wait_on_bit_ops(unsigned long *word, int bit)
{
	return *word & (1UL << bit);
}
EXPORT_SYMBOL(wait_on_bit_ops);
