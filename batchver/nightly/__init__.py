"""Nightly runs from one YAML file: ``batchver nightly``, ``validate`` and
``history``.

The stages live in their own modules, in the order a nightly uses them:

* :mod:`.config` reads and strictly validates the YAML file, naming
  ``FILE:LINE: KEY`` for every problem;
* :mod:`.nightly` runs each tree (produce, version with the cache and the
  configured backend, write, check against the baseline);
* :mod:`.history` appends one JSON line per tree per run, crash-safely;
* :mod:`.trend` turns the history into a table and an HTML trend page;
* :mod:`batchver.cli.nightly` holds the three commands' entry points.
"""

from __future__ import annotations

from batchver.nightly.config import ConfigError, NightlyConfig, TreeConfig, load_config
from batchver.nightly.runner import NightlyResult, run_nightly

__all__ = ["ConfigError", "NightlyConfig", "NightlyResult", "TreeConfig", "load_config",
           "run_nightly"]
