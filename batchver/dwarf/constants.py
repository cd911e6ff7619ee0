"""DWARF constants by their names in the DWARF 5 standard (section 7) and
the GNU extensions libdw knows, so that code reads ``DW_FORM_ref4`` where
the bytes say ``0x13``.

Only the constants batchver reads are listed.  Each is ``Final``: the
compiled modules then use its value directly, where a module global costs a
dictionary lookup per use (the interpreted paths still pay it, so hot loops
there bind these to locals or compile them into generated code, see
:mod:`.decode`).
"""

from __future__ import annotations

from typing import Final

# -- DW_TAG (7.5.3, table 7.3) -------------------------------------------------
DW_TAG_array_type: Final = 0x01
DW_TAG_class_type: Final = 0x02
DW_TAG_enumeration_type: Final = 0x04
DW_TAG_formal_parameter: Final = 0x05
DW_TAG_member: Final = 0x0D
DW_TAG_pointer_type: Final = 0x0F
DW_TAG_reference_type: Final = 0x10
DW_TAG_structure_type: Final = 0x13
DW_TAG_subroutine_type: Final = 0x15
DW_TAG_typedef: Final = 0x16
DW_TAG_union_type: Final = 0x17
DW_TAG_variant: Final = 0x19
DW_TAG_subrange_type: Final = 0x21
DW_TAG_base_type: Final = 0x24
DW_TAG_const_type: Final = 0x26
DW_TAG_enumerator: Final = 0x28
DW_TAG_packed_type: Final = 0x2D
DW_TAG_subprogram: Final = 0x2E
DW_TAG_template_type_parameter: Final = 0x2F
DW_TAG_variant_part: Final = 0x33
DW_TAG_variable: Final = 0x34
DW_TAG_volatile_type: Final = 0x35
DW_TAG_restrict_type: Final = 0x37
DW_TAG_namespace: Final = 0x39
DW_TAG_unspecified_type: Final = 0x3B
DW_TAG_shared_type: Final = 0x40
DW_TAG_rvalue_reference_type: Final = 0x42
DW_TAG_atomic_type: Final = 0x47
DW_TAG_immutable_type: Final = 0x4B

# -- DW_AT (7.5.4, table 7.5) --------------------------------------------------
DW_AT_sibling: Final = 0x01
DW_AT_name: Final = 0x03
DW_AT_byte_size: Final = 0x0B
DW_AT_bit_size: Final = 0x0D
DW_AT_stmt_list: Final = 0x10
DW_AT_comp_dir: Final = 0x1B
DW_AT_language: Final = 0x13
DW_AT_discr_value: Final = 0x16
DW_AT_const_value: Final = 0x1C
DW_AT_producer: Final = 0x25
DW_AT_upper_bound: Final = 0x2F
DW_AT_abstract_origin: Final = 0x31
DW_AT_accessibility: Final = 0x32
DW_AT_count: Final = 0x37
DW_AT_data_member_location: Final = 0x38
DW_AT_decl_file: Final = 0x3A
DW_AT_decl_line: Final = 0x3B
DW_AT_declaration: Final = 0x3C
DW_AT_encoding: Final = 0x3E
DW_AT_type: Final = 0x49
DW_AT_data_bit_offset: Final = 0x6B
DW_AT_linkage_name: Final = 0x6E
DW_AT_str_offsets_base: Final = 0x72
DW_AT_alignment: Final = 0x88

# -- DW_LANG (7.12, table 7.17) --------------------------------------------------
DW_LANG_Rust: Final = 0x1C
DW_LANG_Mips_Assembler: Final = 0x8001  # what GNU as and LLVM's assembler write for a .S unit

# -- DW_FORM (7.5.6, table 7.6) ------------------------------------------------
DW_FORM_addr: Final = 0x01
DW_FORM_block2: Final = 0x03
DW_FORM_block4: Final = 0x04
DW_FORM_data2: Final = 0x05
DW_FORM_data4: Final = 0x06
DW_FORM_data8: Final = 0x07
DW_FORM_string: Final = 0x08
DW_FORM_block: Final = 0x09
DW_FORM_block1: Final = 0x0A
DW_FORM_data1: Final = 0x0B
DW_FORM_flag: Final = 0x0C
DW_FORM_sdata: Final = 0x0D
DW_FORM_strp: Final = 0x0E
DW_FORM_udata: Final = 0x0F
DW_FORM_ref_addr: Final = 0x10
DW_FORM_ref1: Final = 0x11
DW_FORM_ref2: Final = 0x12
DW_FORM_ref4: Final = 0x13
DW_FORM_ref8: Final = 0x14
DW_FORM_ref_udata: Final = 0x15
DW_FORM_indirect: Final = 0x16
DW_FORM_sec_offset: Final = 0x17
DW_FORM_exprloc: Final = 0x18
DW_FORM_flag_present: Final = 0x19
DW_FORM_strx: Final = 0x1A
DW_FORM_addrx: Final = 0x1B
DW_FORM_ref_sup4: Final = 0x1C
DW_FORM_strp_sup: Final = 0x1D
DW_FORM_data16: Final = 0x1E
DW_FORM_line_strp: Final = 0x1F
DW_FORM_ref_sig8: Final = 0x20
DW_FORM_implicit_const: Final = 0x21
DW_FORM_loclistx: Final = 0x22
DW_FORM_rnglistx: Final = 0x23
DW_FORM_ref_sup8: Final = 0x24
DW_FORM_strx1: Final = 0x25
DW_FORM_strx2: Final = 0x26
DW_FORM_strx3: Final = 0x27
DW_FORM_strx4: Final = 0x28
DW_FORM_addrx1: Final = 0x29
DW_FORM_addrx2: Final = 0x2A
DW_FORM_addrx3: Final = 0x2B
DW_FORM_addrx4: Final = 0x2C
DW_FORM_GNU_addr_index: Final = 0x1F01
DW_FORM_GNU_str_index: Final = 0x1F02
DW_FORM_GNU_ref_alt: Final = 0x1F20
DW_FORM_GNU_strp_alt: Final = 0x1F21
