#define RULE_CAT2(a, b) a##b
#define RULE_CAT(a, b) RULE_CAT2(a, b)
#define RULE(kind, target, value)                                              \
	static const char RULE_CAT(__gendwarfksyms_rule_, __COUNTER__)[]      \
		__attribute__((used, aligned(1), section(".discard.gendwarfksyms.kabi_rules"))) = \
		"1\0" kind "\0" target "\0" value
