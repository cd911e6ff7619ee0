"""batchver: Linux kernel symbol versions (modversions CRCs) from DWARF,
byte-compatible with the kernel's scripts/gendwarfksyms, for whole trees."""

__version__ = "0.1.0"
