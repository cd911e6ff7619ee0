"""DWARF: the forms table (:mod:`.forms`), attribute decoding derived from
it (:mod:`.decode`) and the unit and DIE reader (:mod:`.reader`) that the
core walks."""
