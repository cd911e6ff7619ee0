"""DWARF: attribute and form decoding (:mod:`.decode`) and the unit and DIE
reader (:mod:`.reader`) that the core walks."""
