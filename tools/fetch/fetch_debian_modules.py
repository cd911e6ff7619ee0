#!/usr/bin/env python3
"""Fetch a Debian kernel's shipped modules and its Module.symvers.

The consumer check (``batchver check CURRENT --consumers PATH``) is about
modules as users have them: stripped, compressed ``.ko.xz`` files from the
kernel image package, not the debug files of ``-dbg``.  This downloads
``linux-image-<VERSION>-<FLAVOUR>`` (falling back to its ``-unsigned``
twin), unpacks it into ``DEST/image`` and copies the ``Module.symvers`` of
``linux-headers-<VERSION>-<FLAVOUR>`` to ``DEST/Module.symvers``, where
``DEST`` is the directory ``fetch_debian_kernel.py`` uses for that kernel
(``<cache>/debian-6.12.117-cloud`` by default).  The module tree path is
printed at the end.

Packages come through the same private apt configuration as
``fetch_debian_kernel.py`` (its code is reused, not repeated), so the
system's apt sources and lists are left alone.  Idempotent: a completed
extraction (marker ``DEST/.extracted-<package>``) is not redone.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from tools.fetch.fetch_debian_kernel import (DEFAULT_FLAVOUR, DEFAULT_VERSION, FetchError, PrivateApt,
                                 default_suites, dest_dir, extract, fetch_headers, log,
                                 source_entries)
from tools.helpers.roots import CACHE_HELP, default_cache


def image_modules(root: Path) -> Path:
    """``ROOT/lib/modules/<release>`` (or ``usr/lib/...`` on merged-/usr
    packages) of an unpacked image package."""
    for base in (root / "lib/modules", root / "usr/lib/modules"):
        releases = sorted(p for p in base.glob("*") if p.is_dir())
        if releases:
            return releases[-1]
    raise FetchError(f"no lib/modules/<release> directory under {root}")


def fetch_image_modules(apt: PrivateApt, version: str, flavour: str, dest: Path,
                        delete_deb: bool) -> Path:
    root = dest / "image"
    names = [f"linux-image-{version}-{flavour}", f"linux-image-{version}-{flavour}-unsigned"]
    for pkg in names:
        marker = dest / f".extracted-{pkg}"
        if marker.exists():
            log(f"{pkg} is already extracted in {root}; nothing to do")
            return image_modules(root)
    pkg = next((name for name in names if apt.versions(name)), None)
    if pkg is None:
        raise FetchError(f"neither {' nor '.join(names)} is in the configured suites")
    deb = apt.download(pkg, dest)
    extract(deb, root, pkg)
    tree = image_modules(root)
    (dest / f".extracted-{pkg}").write_text(deb.name + "\n")
    if delete_deb:
        deb.unlink()
    return tree


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", default=DEFAULT_VERSION,
                    help="Debian kernel ABI version (default: %(default)s)")
    ap.add_argument("--flavour", default=DEFAULT_FLAVOUR, help="default: %(default)s")
    ap.add_argument("--cache", type=Path, default=default_cache(),
                    help=f"cache root (default: {CACHE_HELP})")
    ap.add_argument("--mirror", default=None,
                    help="archive URI (default: the system's Debian archive entry)")
    ap.add_argument("--delete-deb", action="store_true",
                    help="remove the downloaded .deb files after extraction")
    args = ap.parse_args(argv)
    try:
        entries = source_entries(default_suites(args.version), args.mirror)
        key = hashlib.sha256("\n".join(entries).encode()).hexdigest()[:12]
        apt = PrivateApt(args.cache / "apt" / key, entries)
        dest = dest_dir(args.cache, args.version, args.flavour)
        dest.mkdir(parents=True, exist_ok=True)
        tree = fetch_image_modules(apt, args.version, args.flavour, dest, args.delete_deb)
        symvers = fetch_headers(apt, f"linux-headers-{args.version}-{args.flavour}", dest,
                                args.delete_deb)
        log(f"Module.symvers: {symvers}")
    except (FetchError, OSError) as exc:
        log(f"error: {exc}")
        return 1
    print(f"{tree}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
