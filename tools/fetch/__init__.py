"""Fetch inputs: Debian kernel packages and upstream gendwarfksyms."""
