#!/usr/bin/env python3
"""Fetch and unpack a Debian kernel debug-symbol package for batchver testing.

Downloads ``linux-image-<VERSION>-<FLAVOUR>-dbg`` (default
``linux-image-6.12.117+deb12-cloud-amd64-dbg``) with ``apt-get download``
and unpacks it with ``dpkg -x`` into ``DEST/root``, where
``DEST = CACHE/debian-<upstream version>-<flavour without -amd64>`` (e.g.
``CACHE/debian-7.3.4-cloud``).  The package carries the unstripped
``vmlinux`` and every module (``*.ko``) with full DWARF under
``DEST/root/usr/lib/debug/lib/modules/<kernel-release>/``; that path is
printed at the end.

With ``--headers`` it also downloads ``linux-headers-<VERSION>-<FLAVOUR>``
and copies its ``Module.symvers`` to ``DEST/Module.symvers``.

Where packages come from: a *private* apt configuration under
``CACHE/apt/<hash of its sources>/`` (its own sources list, lists and package cache; the
system's sources and lists are left alone), whose sources are the suites
given with ``--suite`` (default: the Debian release the version names,
``+debNN``, with its ``-updates``, ``-security`` and ``-backports``
pockets) on the archive URI of the system's own apt sources (the entry
listing a plain release suite; ``-security`` suites use the system's
security entry when it has one).  ``--mirror`` overrides the URI.

``CACHE`` defaults to ``$XDG_CACHE_HOME/batchver``, else
``~/.cache/batchver``; ``--cache`` overrides it.

The script is idempotent: a package whose extraction already completed (a
marker file ``DEST/.extracted-<package>`` exists) is neither downloaded nor
unpacked again.  An already downloaded ``.deb`` in DEST is reused.

Only the Python standard library and the Debian tools ``apt-get``,
``apt-cache``, ``dpkg`` and ``dpkg-deb`` are used.  Exit status is non-zero on
any failure, with a message naming the package and the cause.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tools.helpers.roots import default_cache

DEFAULT_VERSION = "6.12.117+deb12"
DEFAULT_FLAVOUR = "cloud-amd64"
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Debian release numbers as they appear in kernel ABI names (+debNN).
CODENAMES = {10: "buster", 11: "bullseye", 12: "bookworm", 13: "trixie", 14: "forky", 15: "duke"}
LISTS_MAX_AGE = 24 * 3600  # re-run apt-get update on the private config after this


class FetchError(Exception):
    """A fatal, user-facing error."""


def log(msg: str) -> None:
    print(f"[fetch_debian_kernel] {msg}", file=sys.stderr, flush=True)


def dest_dir(cache: Path, version: str, flavour: str) -> Path:
    """Where one kernel's packages are unpacked (shared with the tools that
    read them: debian_tree_check.py, debian_abi_evidence.py)."""
    upstream = version.split("+", 1)[0]
    return cache / f"debian-{upstream}-{flavour.removesuffix('-amd64')}"


def module_tree(root: Path) -> Path:
    base = root / "usr/lib/debug/lib/modules"
    if not base.is_dir():
        raise FetchError(f"expected debug module tree {base} is missing")
    releases = sorted(p for p in base.iterdir() if p.is_dir())
    if not releases:
        raise FetchError(f"no kernel release directory under {base}")
    return releases[-1]


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FetchError(f"required tool '{name}' not found in PATH "
                         "(this script needs a Debian-based system)")
    return path


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        what: str) -> subprocess.CompletedProcess[str]:
    """Run a command, raising FetchError with its stderr on failure."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    except OSError as exc:
        raise FetchError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise FetchError(f"{what}: `{' '.join(cmd)}` exited with status "
                         f"{proc.returncode}:\n{detail}")
    return proc


# --- the system's apt sources -------------------------------------------------

@dataclass(frozen=True)
class Source:
    """One ``deb`` entry of the system's apt sources."""

    uri: str
    suites: tuple[str, ...]
    signed_by: str | None


def _deb822_entries(text: str) -> list[Source]:
    out = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        for uri in fields.get("uris", "").split():
            out.append(Source(uri.rstrip("/"), tuple(fields.get("suites", "").split()),
                              fields.get("signed-by") or None))
    return out


def _one_line_entries(text: str) -> list[Source]:
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.match(r"deb\s+(?:\[(?P<opts>[^\]]*)\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)", line)
        if not match:
            continue
        signed = re.search(r"signed-by=(\S+)", match.group("opts") or "")
        out.append(Source(match.group("uri").rstrip("/"), (match.group("suite"),),
                          signed.group(1) if signed else None))
    return out


def system_sources() -> list[Source]:
    """The ``deb`` entries apt itself reads (``sources.list`` and
    ``sources.list.d/*.list``/``*.sources``), via apt-config for the paths."""
    etc = "/etc/apt"
    proc = subprocess.run(["apt-config", "shell", "ETC", "Dir::Etc/d"], text=True, capture_output=True)
    match = re.search(r"ETC='([^']*)'", proc.stdout)
    if match:
        etc = match.group(1).rstrip("/")
    files = [os.path.join(etc, "sources.list")] + sorted(
        glob.glob(os.path.join(etc, "sources.list.d", "*.list"))
        + glob.glob(os.path.join(etc, "sources.list.d", "*.sources")))
    out: list[Source] = []
    for path in files:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        out += _deb822_entries(text) if path.endswith(".sources") else _one_line_entries(text)
    return out


def archive_uris(sources: list[Source]) -> tuple[Source, Source | None]:
    """The system's Debian archive entry (one listing a plain release suite
    such as ``bookworm``) and its security entry, if any."""
    plain = [s for s in sources if any(re.fullmatch(r"[a-z]+", suite) and suite in CODENAMES.values()
                                       for suite in s.suites)]
    if not plain:
        raise FetchError("no Debian archive entry (a 'deb' line for a release such as "
                         f"{CODENAMES[12]}) in the system's apt sources; pass --mirror URI")
    security = next((s for s in sources if any(suite.endswith("-security") for suite in s.suites)), None)
    return plain[0], security


def default_suites(version: str) -> list[str]:
    match = re.search(r"\+deb(\d+)", version)
    if not match or int(match.group(1)) not in CODENAMES:
        raise FetchError(f"cannot tell the Debian release of version '{version}' "
                         "(no known +debNN); pass --suite")
    codename = CODENAMES[int(match.group(1))]
    return [codename, f"{codename}-updates", f"{codename}-security", f"{codename}-backports"]


# --- the private apt configuration --------------------------------------------

class PrivateApt:
    """apt-get/apt-cache on a configuration of our own under ``root``: its
    sources list, lists and archives, never the system's."""

    def __init__(self, root: Path, entries: list[str]) -> None:
        self.root = root
        for sub in ("etc/sources.list.d", "etc/preferences.d", "state/lists/partial",
                    "cache/archives/partial"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        sources = root / "etc/sources.list"
        text = "".join(line + "\n" for line in entries)
        changed = not sources.exists() or sources.read_text() != text
        sources.write_text(text)
        (root / "apt.conf").write_text("".join(f'{key} "{value}";\n' for key, value in (
            ("Dir::Etc::SourceList", root / "etc/sources.list"),
            ("Dir::Etc::SourceParts", root / "etc/sources.list.d"),
            ("Dir::Etc::Preferences", root / "etc/preferences"),
            ("Dir::Etc::PreferencesParts", root / "etc/preferences.d"),
            ("Dir::State", root / "state"),
            ("Dir::State::Lists", root / "state/lists"),
            ("Dir::State::status", "/var/lib/dpkg/status"),
            ("Dir::Cache", root / "cache"),
            # the cache may be writable by the invoking user only
            ("APT::Sandbox::User", "root"),
            ("Acquire::Languages", "none"))))
        self.env = dict(os.environ, APT_CONFIG=str(root / "apt.conf"))
        stamp = root / "state/updated"
        if changed or not stamp.exists() or time.time() - stamp.stat().st_mtime > LISTS_MAX_AGE:
            log(f"apt-get update on the private configuration in {root}")
            run([need_tool("apt-get"), "-q", "update"], env=self.env,
                what="apt-get update (private configuration)")
            stamp.touch()

    def versions(self, pkg: str) -> list[str]:
        proc = subprocess.run([need_tool("apt-cache"), "madison", pkg], env=self.env,
                              text=True, capture_output=True)
        return [line.split("|")[1].strip() for line in proc.stdout.splitlines() if line.count("|") >= 2]

    def search(self, pattern: str) -> list[str]:
        proc = run([need_tool("apt-cache"), "search", "--names-only", pattern], env=self.env,
                   what="listing kernel debug packages")
        return [line.split(" - ", 1)[0].strip() for line in proc.stdout.splitlines()]

    def download(self, pkg: str, dest: Path) -> Path:
        """apt-get download pkg into dest (reusing an existing .deb)."""
        existing = find_deb(dest, pkg)
        if existing is not None:
            log(f"reusing already downloaded {existing.name}")
            return existing
        if not self.versions(pkg):
            raise FetchError(f"package '{pkg}' is in none of the configured suites "
                             f"({self.root / 'etc/sources.list'}); see --list-versions or --suite")
        log(f"downloading {pkg} into {dest} (apt-get download) ...")
        run([need_tool("apt-get"), "-q", "download", pkg], cwd=dest, env=self.env,
            what=f"downloading package '{pkg}'")
        deb = find_deb(dest, pkg)
        if deb is None:
            raise FetchError(f"downloading package '{pkg}': apt-get reported "
                             f"success but no {pkg}_*.deb appeared in {dest}")
        return deb


def source_entries(suites: list[str], mirror: str | None) -> list[str]:
    """``deb`` lines for the private sources list."""
    if mirror:
        archive, security = Source(mirror.rstrip("/"), (), None), None
    else:
        archive, security = archive_uris(system_sources())
    lines = []
    for suite in suites:
        entry = security if suite.endswith("-security") and security is not None else archive
        if suite.endswith("-security") and entry is archive and not mirror:
            log(f"no security entry in the system's apt sources; skipping {suite}")
            continue
        keyring = entry.signed_by or DEFAULT_KEYRING
        lines.append(f"deb [signed-by={keyring}] {entry.uri} {suite} main")
    return lines


# --- fetching -----------------------------------------------------------------

def find_deb(dest: Path, pkg: str) -> Path | None:
    debs = sorted(dest.glob(f"{pkg}_*.deb"))
    return debs[-1] if debs else None


def extract(deb: Path, target: Path, pkg: str) -> None:
    need_tool("dpkg")
    target.mkdir(parents=True, exist_ok=True)
    log(f"extracting {deb.name} into {target} (dpkg -x) ...")
    run(["dpkg", "-x", str(deb), str(target)], what=f"extracting package '{pkg}'")


def fetch_image(apt: PrivateApt, pkg: str, dest: Path, delete_deb: bool) -> Path:
    root = dest / "root"
    marker = dest / f".extracted-{pkg}"
    if marker.exists():
        log(f"{pkg} is already extracted in {root} (marker {marker.name}); nothing to do")
        return module_tree(root)
    deb = apt.download(pkg, dest)
    extract(deb, root, pkg)
    tree = module_tree(root)
    marker.write_text(deb.name + "\n")
    if delete_deb:
        deb.unlink()
    return tree


def fetch_headers(apt: PrivateApt, pkg: str, dest: Path, delete_deb: bool) -> Path:
    out = dest / "Module.symvers"
    marker = dest / f".extracted-{pkg}"
    if marker.exists() and out.exists():
        log(f"{out} from {pkg} already present; nothing to do")
        return out
    deb = apt.download(pkg, dest)
    with tempfile.TemporaryDirectory(prefix="hdrs-", dir=dest) as tmp:
        extract(deb, Path(tmp), pkg)
        found = sorted(Path(tmp).glob("usr/src/*/Module.symvers"))
        if not found:
            raise FetchError(f"package '{pkg}' contains no usr/src/*/Module.symvers")
        shutil.copyfile(found[0], out)
    marker.write_text(deb.name + "\n")
    if delete_deb:
        deb.unlink()
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Download a Debian linux-image-*-dbg package (and with --headers the\n"
                    "Module.symvers of its linux-headers package) through a private apt\n"
                    "configuration and unpack it into a cache directory.",
        epilog="examples:\n  %(prog)s --headers\n"
               "  %(prog)s --version 7.3.4+deb13 --headers\n"
               "  %(prog)s --version 7.3.4+deb13 --suite trixie-backports --cache DIR\n"
               "  %(prog)s --version 7.3.4+deb13 --mirror URI --list-versions",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", default=DEFAULT_VERSION,
                    help="Debian kernel ABI version, as in the package name, e.g. 7.3.4+deb13 "
                         "(default: %(default)s)")
    ap.add_argument("--flavour", default=DEFAULT_FLAVOUR, help="kernel flavour (default: %(default)s)")
    ap.add_argument("--cache", type=Path, default=default_cache(),
                    help="cache root: packages go to CACHE/debian-<upstream>-<flavour>, the private "
                         "apt configuration to CACHE/apt/ (default: $XDG_CACHE_HOME/batchver, else "
                         "~/.cache/batchver; here %(default)s)")
    ap.add_argument("--dest", type=Path, default=None,
                    help="unpack into this directory instead of CACHE/debian-<upstream>-<flavour>")
    ap.add_argument("--suite", action="append", default=None,
                    help="suite to fetch from (repeatable; default: the release named by the "
                         "version's +debNN and its -updates, -security and -backports pockets)")
    ap.add_argument("--mirror", default=None,
                    help="archive URI for every suite (default: the Debian archive entry of the "
                         "system's apt sources)")
    ap.add_argument("--headers", action="store_true",
                    help="also fetch linux-headers-<version>-<flavour> and copy its Module.symvers "
                         "to DEST/Module.symvers")
    ap.add_argument("--delete-deb", action="store_true",
                    help="remove the downloaded .deb after extraction")
    ap.add_argument("--list-versions", action="store_true",
                    help="list linux-image-<major.minor>.*-<flavour>-dbg packages of the suites and exit")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        suites = args.suite or default_suites(args.version)
        entries = source_entries(suites, args.mirror)
        # one configuration per set of sources, so fetching another release
        # does not invalidate the lists of the previous one
        key = hashlib.sha256("\n".join(entries).encode()).hexdigest()[:12]
        apt = PrivateApt(args.cache / "apt" / key, entries)
        if args.list_versions:
            series = re.escape(".".join(args.version.split("+")[0].split(".")[:2]))
            rows = apt.search(rf"^linux-image-{series}\.[0-9]+.*-{re.escape(args.flavour)}-dbg$")
            if not rows:
                log(f"no matching packages in {', '.join(suites)}")
                return 1
            for pkg in rows:
                print(f"{pkg}\t{' '.join(apt.versions(pkg))}")
            return 0
        dest: Path = args.dest or dest_dir(args.cache, args.version, args.flavour)
        dest.mkdir(parents=True, exist_ok=True)
        tree = fetch_image(apt, f"linux-image-{args.version}-{args.flavour}-dbg", dest, args.delete_deb)
        if args.headers:
            symvers = fetch_headers(apt, f"linux-headers-{args.version}-{args.flavour}", dest,
                                    args.delete_deb)
            log(f"Module.symvers: {symvers}")
        vml = sorted((dest / "root/usr/lib/debug/boot").glob("vmlinux-*"))
        if vml:
            log(f"vmlinux: {vml[-1]}")
    except (FetchError, OSError) as exc:
        log(f"error: {exc}")
        return 1
    print(f"{tree}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
