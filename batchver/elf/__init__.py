"""ELF files: sections, symbols and relocations (:mod:`.file`), exports
(:mod:`.exports`) and thin archives (:mod:`.archive`)."""
