"""Committed files name no machine's paths and no package-archive host, and
tools/helpers/roots.py writes paths by named root (the rule results/ relies on)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
from tools.helpers import roots

# Absolute locations that only mean something on one machine, and archive
# hosts (tools take the archive URI from the system's apt sources).
MACHINE = re.compile(rb"(?<![\w.<$~-])/(?:work|root|home|Users|tmp)/|\b(?:deb|snapshot|security|ftp)"
                     rb"\.debian\.org\b|\barchive\.ubuntu\.com\b")


def test_committed_text_names_no_machine_path_or_archive_host():
    try:
        listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                                check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the committed files are unknown")
    found = []
    for name in filter(None, listed):
        path = REPO / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # objects, images: not text anyone wrote
            continue
        found += [f"{name}: {m.group().decode()}" for m in MACHINE.finditer(data)]
    assert found == []


def test_roots_name_paths_at_component_boundaries(tmp_path):
    cache = tmp_path / "cache"
    named = roots.Roots({"<out>": tmp_path / "cache" / "run1"}, cache)
    assert named(f"run {cache}/debian-6.12/root -o {cache}/run1 {cache}2/x {cache}") == \
        f"run <cache>/debian-6.12/root -o <out> {cache}2/x <cache>"
    assert named.path(roots.REPO / "results") == "<repo>/results"
    assert named.data({"a": [f"{cache}/upstream/gendwarfksyms", 3]}) == \
        {"a": ["<cache>/upstream/gendwarfksyms", 3]}
    assert named.html(f"<p>{cache}/x</p>") == "<p>&lt;cache&gt;/x</p>"
    assert named.command([sys.executable, "-m", "batchver", "run", f"{cache}/t"]) == \
        "python -m batchver run <cache>/t"


def test_default_cache_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert roots.default_cache() == tmp_path / "batchver"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert roots.default_cache() == tmp_path / "home" / ".cache" / "batchver"
