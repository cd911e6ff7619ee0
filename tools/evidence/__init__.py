"""Produce the evidence under results/: batchver against upstream, kbuild and the loader."""
