#!/usr/bin/env python3
"""Fetch a Debian kernel's debug and headers packages for another
architecture (default: bookworm's 6.12 ``cloud-arm64``) without touching the
system's apt configuration.

A private apt configuration under ``CACHE/apt-<arch>/`` lists the system's
own archives (the ``URIs``/``Suites``/``Components``/``Signed-By`` of
``/etc/apt/sources.list.d/*.sources`` and one-line ``sources.list``
entries), restricted to ``APT::Architectures`` = ARCH; ``apt-get update``
and ``apt-get download`` run with it, and ``dpkg -x`` unpacks:

* ``linux-image-<release>-dbg`` into ``DEST/root`` (``vmlinux`` and every
  ``.ko`` with DWARF under ``usr/lib/debug/lib/modules/<release>/``);
* ``linux-headers-<release>``'s ``Module.symvers`` to ``DEST/Module.symvers``.

    python tools/fetch_debian_foreign.py [--arch arm64] [--flavour cloud-arm64]
        [--version 6.12.117+deb12] [--cache DIR]

Idempotent: an unpacked package (marker ``DEST/.done-<package>``) is not
fetched again.  Prints DEST's module tree.  Only the standard library and
Debian's ``apt-get``/``dpkg`` are used.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

from roots import CACHE_HELP, default_cache  # tools/ is on sys.path as the script's dir


def system_sources() -> list[str]:
    """The system's binary archives as one-line ``deb`` entries (without an
    architecture option: the private configuration sets it)."""
    lines = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path, encoding="utf-8") as handle:
            stanzas = handle.read().split("\n\n")
        for stanza in stanzas:
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
                continue
            keyring = f" [signed-by={fields['signed-by']}]" if "signed-by" in fields else ""
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    lines.append(f"deb{keyring} {uri} {suite} {fields.get('components', 'main')}")
    if os.path.isfile("/etc/apt/sources.list"):
        with open("/etc/apt/sources.list", encoding="utf-8") as handle:
            lines += [line.strip() for line in handle if re.match(r"\s*deb\s", line)]
    if not lines:
        sys.exit("fetch_debian_foreign: no 'deb' entries in the system's apt sources")
    return lines


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


def prepare(cache: str, arch: str) -> list[str]:
    state = os.path.join(cache, f"apt-{arch}")
    for sub in ("state/lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(state, sub), exist_ok=True)
    with open(os.path.join(state, "sources.list"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(system_sources()) + "\n")
    open(os.path.join(state, "state", "status"), "a").close()
    options = apt_options(state, arch)
    subprocess.run(["apt-get", "-q", *options, "update"], check=True)
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
        options = prepare(args.cache, args.arch)
        deb = fetch(options, image, dest)
        subprocess.run(["dpkg", "-x", deb, os.path.join(dest, "root")], check=True)
        os.remove(deb)
        open(os.path.join(dest, f".done-{image}"), "w").close()
    if not os.path.exists(os.path.join(dest, f".done-{headers}")):
        options = options or prepare(args.cache, args.arch)
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
