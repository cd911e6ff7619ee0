"""DWARF constants by their names in the DWARF 5 standard (section 7) and
the GNU extensions libdw knows, so that code reads ``DW_FORM_ref4`` where
the bytes say ``0x13``.

Only the constants batchver reads are listed.  Hot loops that test a form
on every attribute bind these to locals or compile them into generated code
(see :mod:`.decode`): a module global costs a dictionary lookup per use.
"""

from __future__ import annotations

# -- DW_TAG (7.5.3, table 7.3) -------------------------------------------------
DW_TAG_array_type = 0x01
DW_TAG_class_type = 0x02
DW_TAG_enumeration_type = 0x04
DW_TAG_formal_parameter = 0x05
DW_TAG_member = 0x0D
DW_TAG_pointer_type = 0x0F
DW_TAG_reference_type = 0x10
DW_TAG_structure_type = 0x13
DW_TAG_subroutine_type = 0x15
DW_TAG_typedef = 0x16
DW_TAG_union_type = 0x17
DW_TAG_variant = 0x19
DW_TAG_subrange_type = 0x21
DW_TAG_base_type = 0x24
DW_TAG_const_type = 0x26
DW_TAG_enumerator = 0x28
DW_TAG_packed_type = 0x2D
DW_TAG_subprogram = 0x2E
DW_TAG_template_type_parameter = 0x2F
DW_TAG_variant_part = 0x33
DW_TAG_variable = 0x34
DW_TAG_volatile_type = 0x35
DW_TAG_restrict_type = 0x37
DW_TAG_namespace = 0x39
DW_TAG_unspecified_type = 0x3B
DW_TAG_shared_type = 0x40
DW_TAG_rvalue_reference_type = 0x42
DW_TAG_atomic_type = 0x47
DW_TAG_immutable_type = 0x4B

# -- DW_AT (7.5.4, table 7.5) --------------------------------------------------
DW_AT_sibling = 0x01
DW_AT_name = 0x03
DW_AT_byte_size = 0x0B
DW_AT_bit_size = 0x0D
DW_AT_stmt_list = 0x10
DW_AT_comp_dir = 0x1B
DW_AT_language = 0x13
DW_AT_discr_value = 0x16
DW_AT_const_value = 0x1C
DW_AT_producer = 0x25
DW_AT_upper_bound = 0x2F
DW_AT_abstract_origin = 0x31
DW_AT_accessibility = 0x32
DW_AT_count = 0x37
DW_AT_data_member_location = 0x38
DW_AT_decl_file = 0x3A
DW_AT_decl_line = 0x3B
DW_AT_declaration = 0x3C
DW_AT_encoding = 0x3E
DW_AT_type = 0x49
DW_AT_data_bit_offset = 0x6B
DW_AT_linkage_name = 0x6E
DW_AT_str_offsets_base = 0x72
DW_AT_alignment = 0x88

# -- DW_LANG (7.12, table 7.17) --------------------------------------------------
DW_LANG_Rust = 0x1C
DW_LANG_Mips_Assembler = 0x8001  # what GNU as and LLVM's assembler write for a .S unit

# -- DW_FORM (7.5.6, table 7.6) ------------------------------------------------
DW_FORM_addr = 0x01
DW_FORM_block2 = 0x03
DW_FORM_block4 = 0x04
DW_FORM_data2 = 0x05
DW_FORM_data4 = 0x06
DW_FORM_data8 = 0x07
DW_FORM_string = 0x08
DW_FORM_block = 0x09
DW_FORM_block1 = 0x0A
DW_FORM_data1 = 0x0B
DW_FORM_flag = 0x0C
DW_FORM_sdata = 0x0D
DW_FORM_strp = 0x0E
DW_FORM_udata = 0x0F
DW_FORM_ref_addr = 0x10
DW_FORM_ref1 = 0x11
DW_FORM_ref2 = 0x12
DW_FORM_ref4 = 0x13
DW_FORM_ref8 = 0x14
DW_FORM_ref_udata = 0x15
DW_FORM_indirect = 0x16
DW_FORM_sec_offset = 0x17
DW_FORM_exprloc = 0x18
DW_FORM_flag_present = 0x19
DW_FORM_strx = 0x1A
DW_FORM_addrx = 0x1B
DW_FORM_ref_sup4 = 0x1C
DW_FORM_strp_sup = 0x1D
DW_FORM_data16 = 0x1E
DW_FORM_line_strp = 0x1F
DW_FORM_ref_sig8 = 0x20
DW_FORM_implicit_const = 0x21
DW_FORM_loclistx = 0x22
DW_FORM_rnglistx = 0x23
DW_FORM_ref_sup8 = 0x24
DW_FORM_strx1 = 0x25
DW_FORM_strx2 = 0x26
DW_FORM_strx3 = 0x27
DW_FORM_strx4 = 0x28
DW_FORM_addrx1 = 0x29
DW_FORM_addrx2 = 0x2A
DW_FORM_addrx3 = 0x2B
DW_FORM_addrx4 = 0x2C
DW_FORM_GNU_addr_index = 0x1F01
DW_FORM_GNU_str_index = 0x1F02
DW_FORM_GNU_ref_alt = 0x1F20
DW_FORM_GNU_strp_alt = 0x1F21
