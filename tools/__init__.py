"""batchver's tools: run them from the repository root as ``python -m tools.<kind>.<name>``
(see tools/README.md)."""
