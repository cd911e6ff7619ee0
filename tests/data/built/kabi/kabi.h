struct opaque_def { int hidden; };
enum hidden_e { H_A, H_B };
enum state { S_A, S_B, S_NEW, S_MAX };
struct grown { long a; long b; };
struct over { int whatever; };

struct kabi_s {
	int a;
	long __kabi_reserved_0;                 /* plain member: name dropped */
	union {                                 /* RESERVED: placeholder type used */
		long __kabi_reserved_1;
		struct opaque_def *replaced;
	};
	union {                                 /* IGNORED: member dropped */
		char __kabi_ignored_0;
		int added_in_hole;
	};
	union {                                 /* renamed: placeholder, old name */
		int __kabi_renamedold_count;
		unsigned int new_count;
	};
	union {                                 /* KABI_USE shape: reserved in a struct */
		unsigned int new_x;
		struct { long __kabi_reserved_2; };
		union {
			_Static_assert(sizeof(unsigned int) <= sizeof(long), "size");
		};
	};
	union {                                 /* an ordinary union */
		struct { int x; } normal;
		long y;
	};
};
