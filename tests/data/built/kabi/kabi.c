#include "rules.h"
#include "kabi.h"

RULE("declonly", "opaque_def", "");
RULE("declonly", "hidden_e", "");
RULE("enumerator_ignore", "state S_NEW", "");
RULE("enumerator_value", "state S_MAX", "7");
RULE("enumerator_value", "state S_MAX", "2");   /* the later rule wins */
RULE("byte_size", "grown", "8");
RULE("type_string", "s#over",
     "structure_type over { member s#ghost g data_member_location(0) } byte_size(4)");
RULE("type_string", "s#ghost",                  /* a type that is not in DWARF */
     "structure_type ghost { member base_type int byte_size(4) encoding(5) n data_member_location(0) } byte_size(4)");
RULE("type_string", "k_sym", "variable s#ghost");

void k_opaque(struct opaque_def *p, enum hidden_e h) {}
enum state k_state(void) { return S_A; }
void k_grown(struct grown *g) {}
void k_over(struct over *o) {}
void k_struct(struct kabi_s *s) {}
void k_param(int __kabi_param, int kept) {}
int k_sym;
