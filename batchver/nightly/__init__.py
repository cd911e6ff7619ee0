"""Nightly runs from one YAML file: ``batchver nightly``, ``validate`` and
``history``.

The stages live in their own modules, in the order a nightly uses them:

* :mod:`.config` reads and strictly validates the YAML file, naming
  ``FILE:LINE: KEY`` for every problem;
* :mod:`.nightly` runs each tree (produce, version with the cache and the
  configured backend, write, check against the baseline);
* :mod:`.history` appends one JSON line per tree per run, crash-safely;
* :mod:`.trend` turns the history into a table and an HTML trend page;
* :mod:`.cli` holds the three commands' entry points.
"""

from __future__ import annotations

from .cli import history_main, nightly_main, validate_main
from .config import ConfigError, NightlyConfig, TreeConfig, load_config
from .nightly import NightlyResult, run_nightly

__all__ = ["ConfigError", "NightlyConfig", "NightlyResult", "TreeConfig", "history_main",
           "load_config", "nightly_main", "run_nightly", "validate_main"]
