"""The whole package type-checks under pyproject.toml's [tool.mypy]
(tests/test_native.py checks the compiled modules strictly on their own)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_package_type_checks():
    proc = subprocess.run([sys.executable, "-m", "mypy", "batchver"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
