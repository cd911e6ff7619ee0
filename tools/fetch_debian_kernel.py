#!/usr/bin/env python3
"""Fetch and unpack a Debian kernel debug-symbol package for batchver testing.

Downloads ``linux-image-<VERSION>-<FLAVOUR>-dbg`` (default
``linux-image-6.12.117+deb12-cloud-amd64-dbg``) with ``apt-get download`` into
a cache directory (default ``/work/cache/debian-6.12.117-cloud``) and unpacks
it with ``dpkg -x`` into ``DEST/root``.  The package carries the unstripped
``vmlinux`` and every module (``*.ko``) with full DWARF under
``DEST/root/usr/lib/debug/lib/modules/<kernel-release>/``; that path is printed
at the end.

With ``--headers`` it also downloads ``linux-headers-<VERSION>-<FLAVOUR>`` and
copies its ``Module.symvers`` (the CRCs Debian's build computed) to
``DEST/Module.symvers``.

The script is idempotent: a package whose extraction already completed (a
marker file ``DEST/.extracted-<package>`` exists) is neither downloaded nor
unpacked again.  An already downloaded ``.deb`` in DEST is reused.

Other releases present in the configured apt archives can be fetched with
``--version`` (e.g. ``--version 6.12.115+deb12``); ``--list-versions`` shows
which ``linux-image-6.12.*-cloud-amd64-dbg`` packages apt knows about.
Run ``apt-get update`` once beforehand on a fresh machine.

Only the Python 3.11 standard library and the Debian tools ``apt-get``,
``apt-cache``, ``dpkg`` and ``dpkg-deb`` are used.  Exit status is non-zero on
any failure, with a message naming the package and the cause.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_VERSION = "6.12.117+deb12"
DEFAULT_FLAVOUR = "cloud-amd64"
CACHE_ROOT = Path("/work/cache")


class FetchError(Exception):
    """A fatal, user-facing error."""


def log(msg: str) -> None:
    print(f"[fetch_debian_kernel] {msg}", file=sys.stderr, flush=True)


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FetchError(f"required tool '{name}' not found in PATH "
                         "(this script needs a Debian-based system)")
    return path


def run(cmd: list[str], *, cwd: Path | None = None,
        what: str) -> subprocess.CompletedProcess[str]:
    """Run a command, raising FetchError with its stderr on failure."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, text=True, capture_output=True)
    except OSError as exc:
        raise FetchError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise FetchError(f"{what}: `{' '.join(cmd)}` exited with status "
                         f"{proc.returncode}:\n{detail}")
    return proc


def default_dest(version: str, flavour: str) -> Path:
    upstream = version.split("+", 1)[0]
    short = flavour.removesuffix("-amd64")
    return CACHE_ROOT / f"debian-{upstream}-{short}"


def candidate_version(pkg: str) -> str | None:
    """Return apt's candidate version for pkg, or None if apt doesn't know it."""
    need_tool("apt-cache")
    proc = subprocess.run(["apt-cache", "policy", pkg], text=True,
                          capture_output=True)
    m = re.search(r"^\s*Candidate:\s*(\S+)", proc.stdout, re.M)
    if proc.returncode != 0 or m is None or m.group(1) == "(none)":
        return None
    return m.group(1)


def available_dbg_versions(flavour: str) -> list[tuple[str, str]]:
    """List (package, version) of linux-image-6.12.*-FLAVOUR-dbg known to apt."""
    need_tool("apt-cache")
    proc = run(["apt-cache", "search", "--names-only",
                rf"^linux-image-6\.12\.[0-9]+.*-{re.escape(flavour)}-dbg$"],
               what="listing kernel debug packages")
    out: list[tuple[str, str]] = []
    for line in proc.stdout.splitlines():
        pkg = line.split(" - ", 1)[0].strip()
        if pkg:
            out.append((pkg, candidate_version(pkg) or "?"))

    def key(item: tuple[str, str]) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", item[0]))

    return sorted(out, key=key)


def find_deb(dest: Path, pkg: str) -> Path | None:
    debs = sorted(dest.glob(f"{pkg}_*.deb"))
    return debs[-1] if debs else None


def download(pkg: str, dest: Path) -> Path:
    """apt-get download pkg into dest (reusing an existing .deb)."""
    existing = find_deb(dest, pkg)
    if existing is not None:
        log(f"reusing already downloaded {existing.name}")
        return existing
    need_tool("apt-get")
    if candidate_version(pkg) is None:
        raise FetchError(
            f"package '{pkg}' is not known to apt (no candidate version). "
            "Run 'apt-get update' first; if it is still missing, that version "
            "is not in the configured archives (see --list-versions).")
    log(f"downloading {pkg} into {dest} (apt-get download) ...")
    # APT::Sandbox::User=root avoids the '_apt cannot access' warning when the
    # cache directory is only writable by the invoking user.
    run(["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", pkg],
        cwd=dest, what=f"downloading package '{pkg}'")
    deb = find_deb(dest, pkg)
    if deb is None:
        raise FetchError(f"downloading package '{pkg}': apt-get reported "
                         f"success but no {pkg}_*.deb appeared in {dest}")
    return deb


def extract(deb: Path, target: Path, pkg: str) -> None:
    need_tool("dpkg")
    target.mkdir(parents=True, exist_ok=True)
    log(f"extracting {deb.name} into {target} (dpkg -x) ...")
    run(["dpkg", "-x", str(deb), str(target)],
        what=f"extracting package '{pkg}'")


def module_tree(root: Path) -> Path:
    base = root / "usr/lib/debug/lib/modules"
    if not base.is_dir():
        raise FetchError(f"expected debug module tree {base} is missing")
    releases = sorted(p for p in base.iterdir() if p.is_dir())
    if not releases:
        raise FetchError(f"no kernel release directory under {base}")
    return releases[-1]


def fetch_image(pkg: str, dest: Path, delete_deb: bool) -> Path:
    root = dest / "root"
    marker = dest / f".extracted-{pkg}"
    if marker.exists():
        log(f"{pkg} is already extracted in {root} (marker {marker.name}); "
            "nothing to do")
        return module_tree(root)
    deb = download(pkg, dest)
    extract(deb, root, pkg)
    tree = module_tree(root)
    marker.write_text(deb.name + "\n")
    if delete_deb:
        deb.unlink()
    return tree


def fetch_headers(pkg: str, dest: Path, delete_deb: bool) -> Path:
    out = dest / "Module.symvers"
    marker = dest / f".extracted-{pkg}"
    if marker.exists() and out.exists():
        log(f"{out} from {pkg} already present; nothing to do")
        return out
    deb = download(pkg, dest)
    with tempfile.TemporaryDirectory(prefix="hdrs-", dir=dest) as tmp:
        extract(deb, Path(tmp), pkg)
        found = sorted(Path(tmp).glob("usr/src/*/Module.symvers"))
        if not found:
            raise FetchError(f"package '{pkg}' contains no "
                             "usr/src/*/Module.symvers")
        shutil.copyfile(found[0], out)
    marker.write_text(deb.name + "\n")
    if delete_deb:
        deb.unlink()
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Download a Debian linux-image-*-dbg package with "
                    "apt-get and unpack it (dpkg -x) into a cache dir.",
        epilog="Example: %(prog)s --headers   |   "
               "%(prog)s --version 6.12.115+deb12   |   "
               "%(prog)s --list-versions")
    ap.add_argument("--version", default=DEFAULT_VERSION,
                    help="Debian kernel ABI version, as in the package name "
                         "(default: %(default)s)")
    ap.add_argument("--flavour", default=DEFAULT_FLAVOUR,
                    help="kernel flavour (default: %(default)s)")
    ap.add_argument("--dest", type=Path, default=None,
                    help="cache directory (default: /work/cache/"
                         "debian-<upstream-version>-cloud, e.g. "
                         f"{default_dest(DEFAULT_VERSION, DEFAULT_FLAVOUR)})")
    ap.add_argument("--headers", action="store_true",
                    help="also fetch linux-headers-<version>-<flavour> and "
                         "copy its Module.symvers to DEST/Module.symvers")
    ap.add_argument("--delete-deb", action="store_true",
                    help="remove the downloaded .deb after extraction")
    ap.add_argument("--list-versions", action="store_true",
                    help="list linux-image-6.12.*-<flavour>-dbg packages "
                         "known to apt and exit")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.list_versions:
            rows = available_dbg_versions(args.flavour)
            if not rows:
                log("no matching packages known to apt (run apt-get update?)")
                return 1
            for pkg, ver in rows:
                print(f"{pkg}\t{ver}")
            return 0

        dest: Path = args.dest or default_dest(args.version, args.flavour)
        dest.mkdir(parents=True, exist_ok=True)
        image_pkg = f"linux-image-{args.version}-{args.flavour}-dbg"
        tree = fetch_image(image_pkg, dest, args.delete_deb)
        if args.headers:
            hdr_pkg = f"linux-headers-{args.version}-{args.flavour}"
            symvers = fetch_headers(hdr_pkg, dest, args.delete_deb)
            log(f"Module.symvers: {symvers}")
        vmlinux = dest / "root/usr/lib/debug/boot"
        vml = sorted(vmlinux.glob("vmlinux-*"))
        if vml:
            log(f"vmlinux: {vml[-1]}")
    except FetchError as exc:
        log(f"error: {exc}")
        return 1
    except OSError as exc:
        log(f"error: {exc}")
        return 1
    print(f"{tree}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
