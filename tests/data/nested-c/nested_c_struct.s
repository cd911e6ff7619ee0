# A C++ object (g++ 12.2.0 -S -g -gdwarf-5 -O0 -dA of the two lines below) whose
# compile unit says DW_LANG_C99: a C unit with a struct nested in a struct,
# which gcc never makes from C.  See tests/test_type_strings.py.
#   struct outer { struct inner { int x; } in; };
#   extern "C" int f(struct outer *o) { return 0; }
	.file	"nest.cc"
	.text
.Ltext0:
	.file 0 "/src" "nest.cc"
	.globl	f
	.type	f, @function
f:
.LFB0:
	.file 1 "nest.cc"
	# nest.cc:2:35
	.loc 1 2 35
	.cfi_startproc
# BLOCK 2 seq:0
# PRED: ENTRY (FALLTHRU)
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset 6, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register 6
	movq	%rdi, -8(%rbp)
	# nest.cc:2:44
	.loc 1 2 44
	movl	$0, %eax
	# nest.cc:2:47
	.loc 1 2 47
	popq	%rbp
	.cfi_def_cfa 7, 8
# SUCC: EXIT [always] 
	ret
	.cfi_endproc
.LFE0:
	.size	f, .-f
.Letext0:
	.section	.debug_info,"",@progbits
.Ldebug_info0:
	.long	0x8d	# Length of Compilation Unit Info
	.value	0x5	# DWARF version number
	.byte	0x1	# DW_UT_compile
	.byte	0x8	# Pointer Size (in bytes)
	.long	.Ldebug_abbrev0	# Offset Into Abbrev. Section
	.uleb128 0x3	# (DIE (0xc) DW_TAG_compile_unit)
	.long	.LASF4	# DW_AT_producer: "GNU C++17 12.2.0 -mtune=generic -march=x86-64 -g -gdwarf-5 -O0 -fno-asynchronous-unwind-tables -fno-ident"
	.byte	0xc	# DW_AT_language (patched: DW_LANG_C99)
	.long	.LASF0	# DW_AT_name: "nest.cc"
	.long	.LASF1	# DW_AT_comp_dir: "/src"
	.quad	.Ltext0	# DW_AT_low_pc
	.quad	.Letext0-.Ltext0	# DW_AT_high_pc
	.long	.Ldebug_line0	# DW_AT_stmt_list
	.uleb128 0x1	# (DIE (0x2e) DW_TAG_structure_type)
	.long	.LASF2	# DW_AT_name: "outer"
			# DW_AT_byte_size (0x4)
			# DW_AT_decl_file (1, nest.cc)
			# DW_AT_decl_line (0x1)
	.byte	0x8	# DW_AT_decl_column
	.long	0x55	# DW_AT_sibling
	.uleb128 0x1	# (DIE (0x38) DW_TAG_structure_type)
	.long	.LASF3	# DW_AT_name: "inner"
			# DW_AT_byte_size (0x4)
			# DW_AT_decl_file (1, nest.cc)
			# DW_AT_decl_line (0x1)
	.byte	0x17	# DW_AT_decl_column
	.long	0x4b	# DW_AT_sibling
	.uleb128 0x2	# (DIE (0x42) DW_TAG_member)
	.ascii "x\0"	# DW_AT_name
			# DW_AT_decl_file (1, nest.cc)
			# DW_AT_decl_line (0x1)
	.byte	0x23	# DW_AT_decl_column
	.long	0x55	# DW_AT_type
			# DW_AT_data_member_location (0)
	.byte	0	# end of children of DIE 0x38
	.uleb128 0x2	# (DIE (0x4b) DW_TAG_member)
	.ascii "in\0"	# DW_AT_name
			# DW_AT_decl_file (1, nest.cc)
			# DW_AT_decl_line (0x1)
	.byte	0x28	# DW_AT_decl_column
	.long	0x38	# DW_AT_type
			# DW_AT_data_member_location (0)
	.byte	0	# end of children of DIE 0x2e
	.uleb128 0x4	# (DIE (0x55) DW_TAG_base_type)
	.byte	0x4	# DW_AT_byte_size
	.byte	0x5	# DW_AT_encoding
	.ascii "int\0"	# DW_AT_name
	.uleb128 0x5	# (DIE (0x5c) DW_TAG_subprogram)
			# DW_AT_external
	.ascii "f\0"	# DW_AT_name
	.byte	0x1	# DW_AT_decl_file (nest.cc)
	.byte	0x2	# DW_AT_decl_line
	.byte	0x10	# DW_AT_decl_column
	.long	0x55	# DW_AT_type
	.quad	.LFB0	# DW_AT_low_pc
	.quad	.LFE0-.LFB0	# DW_AT_high_pc
	.uleb128 0x1	# DW_AT_frame_base
	.byte	0x9c	# DW_OP_call_frame_cfa
			# DW_AT_call_all_calls
	.long	0x8a	# DW_AT_sibling
	.uleb128 0x6	# (DIE (0x7c) DW_TAG_formal_parameter)
	.ascii "o\0"	# DW_AT_name
	.byte	0x1	# DW_AT_decl_file (nest.cc)
	.byte	0x2	# DW_AT_decl_line
	.byte	0x20	# DW_AT_decl_column
	.long	0x8a	# DW_AT_type
	.uleb128 0x2	# DW_AT_location
	.byte	0x91	# DW_OP_fbreg
	.sleb128 -24
	.byte	0	# end of children of DIE 0x5c
	.uleb128 0x7	# (DIE (0x8a) DW_TAG_pointer_type)
	.byte	0x8	# DW_AT_byte_size
	.long	0x2e	# DW_AT_type
	.byte	0	# end of children of DIE 0xc
	.section	.debug_abbrev,"",@progbits
.Ldebug_abbrev0:
	.uleb128 0x1	# (abbrev code)
	.uleb128 0x13	# (TAG: DW_TAG_structure_type)
	.byte	0x1	# DW_children_yes
	.uleb128 0x3	# (DW_AT_name)
	.uleb128 0xe	# (DW_FORM_strp)
	.uleb128 0xb	# (DW_AT_byte_size)
	.uleb128 0x21	# (DW_FORM_implicit_const)
	.sleb128 4
	.uleb128 0x3a	# (DW_AT_decl_file)
	.uleb128 0x21	# (DW_FORM_implicit_const)
	.sleb128 1	# (nest.cc)
	.uleb128 0x3b	# (DW_AT_decl_line)
	.uleb128 0x21	# (DW_FORM_implicit_const)
	.sleb128 1
	.uleb128 0x39	# (DW_AT_decl_column)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x1	# (DW_AT_sibling)
	.uleb128 0x13	# (DW_FORM_ref4)
	.byte	0
	.byte	0
	.uleb128 0x2	# (abbrev code)
	.uleb128 0xd	# (TAG: DW_TAG_member)
	.byte	0	# DW_children_no
	.uleb128 0x3	# (DW_AT_name)
	.uleb128 0x8	# (DW_FORM_string)
	.uleb128 0x3a	# (DW_AT_decl_file)
	.uleb128 0x21	# (DW_FORM_implicit_const)
	.sleb128 1	# (nest.cc)
	.uleb128 0x3b	# (DW_AT_decl_line)
	.uleb128 0x21	# (DW_FORM_implicit_const)
	.sleb128 1
	.uleb128 0x39	# (DW_AT_decl_column)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x49	# (DW_AT_type)
	.uleb128 0x13	# (DW_FORM_ref4)
	.uleb128 0x38	# (DW_AT_data_member_location)
	.uleb128 0x21	# (DW_FORM_implicit_const)
	.sleb128 0
	.byte	0
	.byte	0
	.uleb128 0x3	# (abbrev code)
	.uleb128 0x11	# (TAG: DW_TAG_compile_unit)
	.byte	0x1	# DW_children_yes
	.uleb128 0x25	# (DW_AT_producer)
	.uleb128 0xe	# (DW_FORM_strp)
	.uleb128 0x13	# (DW_AT_language)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x3	# (DW_AT_name)
	.uleb128 0x1f	# (DW_FORM_line_strp)
	.uleb128 0x1b	# (DW_AT_comp_dir)
	.uleb128 0x1f	# (DW_FORM_line_strp)
	.uleb128 0x11	# (DW_AT_low_pc)
	.uleb128 0x1	# (DW_FORM_addr)
	.uleb128 0x12	# (DW_AT_high_pc)
	.uleb128 0x7	# (DW_FORM_data8)
	.uleb128 0x10	# (DW_AT_stmt_list)
	.uleb128 0x17	# (DW_FORM_sec_offset)
	.byte	0
	.byte	0
	.uleb128 0x4	# (abbrev code)
	.uleb128 0x24	# (TAG: DW_TAG_base_type)
	.byte	0	# DW_children_no
	.uleb128 0xb	# (DW_AT_byte_size)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x3e	# (DW_AT_encoding)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x3	# (DW_AT_name)
	.uleb128 0x8	# (DW_FORM_string)
	.byte	0
	.byte	0
	.uleb128 0x5	# (abbrev code)
	.uleb128 0x2e	# (TAG: DW_TAG_subprogram)
	.byte	0x1	# DW_children_yes
	.uleb128 0x3f	# (DW_AT_external)
	.uleb128 0x19	# (DW_FORM_flag_present)
	.uleb128 0x3	# (DW_AT_name)
	.uleb128 0x8	# (DW_FORM_string)
	.uleb128 0x3a	# (DW_AT_decl_file)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x3b	# (DW_AT_decl_line)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x39	# (DW_AT_decl_column)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x49	# (DW_AT_type)
	.uleb128 0x13	# (DW_FORM_ref4)
	.uleb128 0x11	# (DW_AT_low_pc)
	.uleb128 0x1	# (DW_FORM_addr)
	.uleb128 0x12	# (DW_AT_high_pc)
	.uleb128 0x7	# (DW_FORM_data8)
	.uleb128 0x40	# (DW_AT_frame_base)
	.uleb128 0x18	# (DW_FORM_exprloc)
	.uleb128 0x7a	# (DW_AT_call_all_calls)
	.uleb128 0x19	# (DW_FORM_flag_present)
	.uleb128 0x1	# (DW_AT_sibling)
	.uleb128 0x13	# (DW_FORM_ref4)
	.byte	0
	.byte	0
	.uleb128 0x6	# (abbrev code)
	.uleb128 0x5	# (TAG: DW_TAG_formal_parameter)
	.byte	0	# DW_children_no
	.uleb128 0x3	# (DW_AT_name)
	.uleb128 0x8	# (DW_FORM_string)
	.uleb128 0x3a	# (DW_AT_decl_file)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x3b	# (DW_AT_decl_line)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x39	# (DW_AT_decl_column)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x49	# (DW_AT_type)
	.uleb128 0x13	# (DW_FORM_ref4)
	.uleb128 0x2	# (DW_AT_location)
	.uleb128 0x18	# (DW_FORM_exprloc)
	.byte	0
	.byte	0
	.uleb128 0x7	# (abbrev code)
	.uleb128 0xf	# (TAG: DW_TAG_pointer_type)
	.byte	0	# DW_children_no
	.uleb128 0xb	# (DW_AT_byte_size)
	.uleb128 0xb	# (DW_FORM_data1)
	.uleb128 0x49	# (DW_AT_type)
	.uleb128 0x13	# (DW_FORM_ref4)
	.byte	0
	.byte	0
	.byte	0
	.section	.debug_aranges,"",@progbits
	.long	0x2c	# Length of Address Ranges Info
	.value	0x2	# DWARF aranges version
	.long	.Ldebug_info0	# Offset of Compilation Unit Info
	.byte	0x8	# Size of Address
	.byte	0	# Size of Segment Descriptor
	.value	0	# Pad to 16 byte boundary
	.value	0
	.quad	.Ltext0	# Address
	.quad	.Letext0-.Ltext0	# Length
	.quad	0
	.quad	0
	.section	.debug_line,"",@progbits
.Ldebug_line0:
	.section	.debug_str,"MS",@progbits,1
.LASF3:
	.string	"inner"
.LASF2:
	.string	"outer"
.LASF4:
	.string	"GNU C++17 12.2.0 -mtune=generic -march=x86-64 -g -gdwarf-5 -O0 -fno-asynchronous-unwind-tables -fno-ident"
	.section	.debug_line_str,"MS",@progbits,1
.LASF0:
	.string	"nest.cc"
.LASF1:
	.string	"/src"
	.section	.note.GNU-stack,"",@progbits
