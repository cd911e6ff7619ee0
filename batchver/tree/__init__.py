"""Whole-tree versioning, in pipeline order: :mod:`.discover` ->
:mod:`.linked` (which CU versions each export of a linked file) ->
:mod:`.tasks` and :mod:`.scheduler` (fan out, with :mod:`.cache`) ->
:mod:`.outputs` (merge and write).  :mod:`.pipeline` is the one
``version_tree()`` that ``batchver run`` and the nightly both call.
:mod:`.kinds` names the kinds of tree and the semantics of a linked file."""
