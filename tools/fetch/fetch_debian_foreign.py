#!/usr/bin/env python3
"""Fetch a Debian kernel's debug and headers packages for another
architecture (default: bookworm's 6.12 ``cloud-arm64``) without touching the
system's apt configuration.

A private apt configuration under ``CACHE/apt-<arch>-<codename>/`` lists
the suites of the Debian release the version names (``+deb12``: bookworm,
with its -updates, -security and -backports; ``+deb13``: trixie...) on the
archive URI of the system's own apt sources, chosen as
``fetch_debian_kernel.py`` chooses them, restricted to
``APT::Architectures`` = ARCH; ``apt-get update`` and ``apt-get download``
run with it, and ``dpkg -x`` unpacks:

* ``linux-image-<release>-dbg`` into ``DEST/root`` (``vmlinux`` and every
  ``.ko`` with DWARF under ``usr/lib/debug/lib/modules/<release>/``);
* ``linux-headers-<release>``'s ``Module.symvers`` to ``DEST/Module.symvers``.

    python -m tools.fetch.fetch_debian_foreign [--arch arm64] [--flavour cloud-arm64]
        [--version 6.12.117+deb12] [--cache DIR]
    python -m tools.fetch.fetch_debian_foreign --arch riscv64 --flavour riscv64 --version 6.12.117+deb13

Idempotent: an unpacked package (marker ``DEST/.done-<package>``) is not
fetched again.  Prints DEST's module tree.  Only the standard library and
Debian's ``apt-get``/``dpkg`` are used.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

from tools.fetch.fetch_debian_kernel import FetchError, default_suites, source_entries
from tools.helpers.roots import CACHE_HELP, default_cache


def apt_options(state: str, arch: str) -> list[str]:
    """apt options that keep lists, caches and sources inside ``state``."""
    return ["-o", f"Dir::Etc::sourcelist={state}/sources.list",
            "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State={state}/state",
            "-o", f"Dir::State::status={state}/state/status",
            "-o", f"Dir::Cache={state}/cache",
            "-o", f"APT::Architectures::={arch}",
            "-o", f"APT::Architecture={arch}",
            "-o", "APT::Sandbox::User=root",
            "-o", "Debug::NoLocking=1"]


def prepare(cache: str, arch: str, version: str) -> list[str]:
    try:
        suites = default_suites(version)
        entries = source_entries(suites, None)
    except FetchError as exc:
        sys.exit(f"fetch_debian_foreign: {exc}")
    state = os.path.join(cache, f"apt-{arch}-{suites[0]}")
    for sub in ("state/lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(state, sub), exist_ok=True)
    with open(os.path.join(state, "sources.list"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(entries) + "\n")
    open(os.path.join(state, "state", "status"), "a").close()
    options = apt_options(state, arch)
    # A mirror caught mid-sync fails some pocket's index (exit 100) while the
    # release's own lists, which hold the kernel, are fine: go on, and let
    # the download say if the package is missing.
    if subprocess.run(["apt-get", "-q", *options, "update"]).returncode != 0:
        print("fetch_debian_foreign: apt-get update failed for some lists; trying the "
              "download with the lists it has", file=sys.stderr)
    return options


def fetch(options: list[str], package: str, dest: str) -> str:
    """``apt-get download`` one package into ``dest``; its path."""
    found = glob.glob(os.path.join(dest, f"{package.split(':')[0]}_*.deb"))
    if found:
        return found[0]
    subprocess.run(["apt-get", "-q", *options, "download", package], cwd=dest, check=True)
    found = glob.glob(os.path.join(dest, f"{package.split(':')[0]}_*.deb"))
    if not found:
        sys.exit(f"fetch_debian_foreign: apt-get download {package} left no .deb in {dest}")
    return found[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="arm64")
    parser.add_argument("--flavour", default="cloud-arm64")
    parser.add_argument("--version", default="6.12.117+deb12")
    parser.add_argument("--cache", default=str(default_cache()),
                        help=f"where the apt state and the kernel go (default: {CACHE_HELP})")
    args = parser.parse_args()
    release = f"{args.version}-{args.flavour}"
    dest = os.path.join(args.cache, f"debian-{release}")
    os.makedirs(dest, exist_ok=True)
    image = f"linux-image-{release}-dbg:{args.arch}"
    headers = f"linux-headers-{release}:{args.arch}"
    options = None
    if not os.path.exists(os.path.join(dest, f".done-{image}")):
        options = prepare(args.cache, args.arch, args.version)
        deb = fetch(options, image, dest)
        subprocess.run(["dpkg", "-x", deb, os.path.join(dest, "root")], check=True)
        os.remove(deb)
        open(os.path.join(dest, f".done-{image}"), "w").close()
    if not os.path.exists(os.path.join(dest, f".done-{headers}")):
        options = options or prepare(args.cache, args.arch, args.version)
        deb = fetch(options, headers, dest)
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            subprocess.run(["dpkg", "-x", deb, tmp], check=True)
            symvers = glob.glob(os.path.join(tmp, "usr/src/*/Module.symvers"))
            if not symvers:
                sys.exit(f"fetch_debian_foreign: {headers} holds no usr/src/*/Module.symvers")
            shutil.copyfile(symvers[0], os.path.join(dest, "Module.symvers"))
        os.remove(deb)
        open(os.path.join(dest, f".done-{headers}"), "w").close()
    print(os.path.join(dest, "root", "usr", "lib", "debug", "lib", "modules", release))
    return 0


if __name__ == "__main__":
    sys.exit(main())
