#!/usr/bin/env python3
"""Build a Linux 7.x kernel tree with CONFIG_GENDWARFKSYMS=y from Debian's linux-source package.

The result is a kbuild output directory of the kind ``batchver run BUILD``
versions: objects, thin archives (``vmlinux.a`` of ``built-in.a`` files),
``.mod`` files, ``modules.order``, ``.<obj>.cmd`` files carrying the
``#SYMVER`` lines kbuild took from gendwarfksyms, and the tree's own
``Module.symvers`` to compare batchver's with.

What it does, in order (each step is skipped when its result is already
there, so a re-run after an interruption resumes):

1. takes the ``linux-source-X.Y_*.deb`` given with ``--deb`` (or the newest one
   in ``<cache>/debs``, or ``apt-get download linux-source-X.Y`` through the
   system's apt sources) and unpacks its source tarball into ``DEST/src``;
2. configures ``DEST/build`` (an ``O=`` directory): ``make <base>``
   (x86_64 ``defconfig`` by default), then MODVERSIONS with gendwarfksyms,
   ASM_MODVERSIONS, DWARF 5 debug info and a few drivers as modules (among
   them users of namespaced and ``EXPORT_SYMBOL_FOR_MODULES`` exports), then
   the lines of ``--fragment`` files, then ``make olddefconfig``;
3. runs ``make vmlinux modules`` with fixed KBUILD_BUILD_TIMESTAMP/USER/HOST
   so that two builds with the same compiler give the same objects;
4. writes ``DEST/build/BUILD_DONE`` (JSON: kernel version, compiler, config
   hash, seconds taken) once the build has finished, and prints the time.

The default DEST is ``<cache>/kbuild/linux-<version>`` where ``<cache>`` is
``$XDG_CACHE_HOME/batchver`` or ``~/.cache/batchver``; ``--dest`` overrides
it.  Build dependencies are Debian packages (``--install-deps`` installs the
missing ones with apt-get).  A full x86_64 defconfig build with DWARF takes
hours of CPU time; ``--base tinyconfig --fragment tools/kbuild-small.config``
makes a small tree (a few hundred objects, some modules) in a fraction of it.
The module settings apply to any base as far as its dependencies allow.

    python tools/build_kernel_tree.py --deb linux-source-7.3_7.3.4-1~bpo13+1_all.deb
    python tools/build_kernel_tree.py --dest /big/disk/kbuild --jobs 8
    python tools/build_kernel_tree.py --build-dir small --base tinyconfig --fragment tools/kbuild-small.config
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time

from roots import default_cache  # tools/ is on sys.path as the script's dir

#: Debian packages the kernel build needs on top of gcc and binutils.
BUILD_DEPS = ["gcc", "make", "bc", "flex", "bison", "libelf-dev", "libdw-dev",
              "libssl-dev", "xz-utils", "cpio", "kmod"]

#: What every tree gets on top of the base config: kbuild versions exports
#: with gendwarfksyms (a choice against GENKSYMS) from full DWARF 5.
VERSIONING = ["MODULES=y", "MODVERSIONS=y", "GENDWARFKSYMS=y", "GENKSYMS=n",
              "ASM_MODVERSIONS=y", "DEBUG_INFO=y", "DEBUG_INFO_DWARF5=y",
              "DEBUG_INFO_NONE=n", "DEBUG_INFO_REDUCED=n", "DEBUG_INFO_SPLIT=n",
              "DEBUG_INFO_BTF=n", "LTO_NONE=y", "MODULE_SIG=n", "WERROR=n"]

#: Drivers built as modules so the tree has module-to-module and namespaced
#: exports: USB storage (namespace USB_STORAGE), kvm and binfmt_misc (the
#: targets of EXPORT_SYMBOL_FOR_MODULES in vmlinux), nfs/sunrpc (many
#: cross-module exports), fuse, and a few network drivers.
MODULES = ["USB_STORAGE=m", "USB_UAS=m", "USB_STORAGE_REALTEK=m",
           "USB_STORAGE_DATAFAB=m", "BINFMT_MISC=m", "VIRTUALIZATION=y",
           "KVM=m", "KVM_INTEL=m", "KVM_AMD=m", "ROOT_NFS=n", "NFS_FS=m",
           "NFS_V4=m", "FUSE_FS=m", "CUSE=m", "VIRTIO_NET=m", "E1000=m",
           "E1000E=m", "TUN=m", "VETH=m", "BRIDGE=m"]

#: Fixed build identity so rebuilding gives the same objects.
REPRODUCIBLE_ENV = {"KBUILD_BUILD_TIMESTAMP": "Thu Jan  1 00:00:00 UTC 2026",
                    "KBUILD_BUILD_USER": "batchver", "KBUILD_BUILD_HOST": "batchver",
                    "KBUILD_BUILD_VERSION": "1", "LC_ALL": "C", "TZ": "UTC"}


class BuildError(Exception):
    """A fatal, user-facing error."""


def log(msg: str) -> None:
    print(f"[build_kernel_tree] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None,
        log_path: str | None = None) -> None:
    """Run ``cmd``; its output goes to ``log_path`` (appended) or to ours."""
    log("$ " + " ".join(cmd))
    out = open(log_path, "ab") if log_path else None
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=out,
                              stderr=subprocess.STDOUT if out else None)
    except OSError as exc:
        raise BuildError(f"cannot run {cmd[0]}: {exc}") from exc
    finally:
        if out:
            out.close()
    if proc.returncode != 0:
        where = f"; see {log_path}" if log_path else ""
        raise BuildError(f"`{' '.join(cmd)}` exited with status {proc.returncode}{where}")


def missing_deps() -> list[str]:
    """Build-dependency packages dpkg does not list as installed."""
    missing = []
    for pkg in BUILD_DEPS:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                              capture_output=True, text=True)
        if "ok installed" not in proc.stdout:
            missing.append(pkg)
    return missing


def find_deb(deb: str | None, package: str, cache: str) -> str:
    """The linux-source .deb to build: given, cached, or downloaded with apt."""
    if deb:
        if not os.path.isfile(deb):
            raise BuildError(f"{deb}: no such file")
        return os.path.abspath(deb)
    debs = os.path.join(cache, "debs")
    found = sorted(glob.glob(os.path.join(debs, f"{package}_*_all.deb")))
    if found:
        return found[-1]
    os.makedirs(debs, exist_ok=True)
    log(f"no {package} .deb in {debs}; apt-get download {package} (system apt sources)")
    run(["apt-get", "download", package], cwd=debs)
    found = sorted(glob.glob(os.path.join(debs, f"{package}_*_all.deb")))
    if not found:
        raise BuildError(f"apt-get download {package} left no .deb in {debs}")
    return found[-1]


def unpack(deb: str, src: str) -> None:
    """Unpack the kernel source tarball inside ``deb`` into ``src``."""
    marker = os.path.join(src, ".batchver-unpacked")
    if os.path.exists(marker):
        return
    if os.path.exists(src):
        shutil.rmtree(src)
    os.makedirs(src)
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True)
    tarballs = [line.split()[-1] for line in listing.stdout.splitlines()
                if re.search(r"/usr/src/linux-source-[^/]*\.tar\.xz$", line)]
    if not tarballs:
        raise BuildError(f"{deb}: holds no usr/src/linux-source-*.tar.xz")
    log(f"unpacking {os.path.basename(tarballs[0])} from {os.path.basename(deb)}")
    inner = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    assert inner.stdout is not None
    with tarfile.open(fileobj=inner.stdout, mode="r|") as outer:
        for member in outer:
            if member.name == tarballs[0]:
                fileobj = outer.extractfile(member)
                assert fileobj is not None
                with tarfile.open(fileobj=fileobj, mode="r|xz") as source:
                    for entry in source:
                        # The tarball has one top directory; drop it.
                        entry.name = entry.name.partition("/")[2]
                        if entry.name:
                            source.extract(entry, src, filter="fully_trusted")
                break
    inner.wait()
    open(marker, "w").close()


def config_lines(fragments: list[str]) -> list[str]:
    """The ``NAME=value`` settings applied after the base config, in order."""
    lines = VERSIONING + MODULES
    for path in fragments:
        with open(path) as handle:
            for raw in handle:
                line = raw.strip()
                match = re.fullmatch(r"# CONFIG_(\w+) is not set", line)
                if match:
                    lines.append(match.group(1) + "=n")
                elif line and not line.startswith("#"):
                    lines.append(line.removeprefix("CONFIG_"))
    return lines


def configure(src: str, build: str, base: str, lines: list[str], make: list[str],
              env: dict[str, str], log_path: str) -> None:
    """Write ``build/.config``: base target, our settings, olddefconfig."""
    run(make + [base], cwd=src, env=env, log_path=log_path)
    args = []
    for line in lines:
        name, _, value = line.partition("=")
        if value == "y":
            args += ["--enable", name]
        elif value == "m":
            args += ["--module", name]
        elif value == "n":
            args += ["--disable", name]
        else:
            args += ["--set-val", name, value]
    run([os.path.join(src, "scripts", "config"), "--file", os.path.join(build, ".config"), *args])
    # Settings whose dependencies appear only once others are set need two rounds.
    for _ in range(2):
        run(make + ["olddefconfig"], cwd=src, env=env, log_path=log_path)
        run([os.path.join(src, "scripts", "config"), "--file", os.path.join(build, ".config"), *args])
    run(make + ["olddefconfig"], cwd=src, env=env, log_path=log_path)
    with open(os.path.join(build, ".config")) as handle:
        config = handle.read()
    for needed in ("CONFIG_MODVERSIONS=y", "CONFIG_GENDWARFKSYMS=y", "CONFIG_DEBUG_INFO_DWARF5=y"):
        if needed not in config.splitlines():
            raise BuildError(f"{build}/.config lacks {needed} after olddefconfig")


def tool_version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog="Default DEST: $XDG_CACHE_HOME/batchver/kbuild/linux-<version> "
               "(else ~/.cache/batchver/kbuild/...); override with --dest. "
               "The .deb is looked for in <cache>/debs unless --deb is given.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deb", help="linux-source-X.Y_*_all.deb to build")
    parser.add_argument("--package", default="linux-source-7.3",
                        help="Debian source package to look for or download (default %(default)s)")
    parser.add_argument("--dest", help="directory for src/ and build/ (see below)")
    parser.add_argument("--build-dir",
                        help="kbuild output directory, relative to DEST (default build); "
                             "DEST/src is shared, so several configs build from one source")
    parser.add_argument("--base", default="defconfig",
                        help="make target giving the base config (default %(default)s; "
                             "e.g. tinyconfig for a small tree)")
    parser.add_argument("--fragment", action="append", default=[],
                        help="config fragment (CONFIG_X=y lines) applied last; may repeat")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="make -j (default: number of CPUs)")
    parser.add_argument("--install-deps", action="store_true",
                        help="apt-get install missing build dependencies (needs root)")
    args = parser.parse_args()
    try:
        missing = missing_deps()
        if missing and args.install_deps:
            run(["apt-get", "install", "-y", "-q", *missing])
        elif missing:
            raise BuildError("missing build dependencies: " + " ".join(missing)
                             + " (apt-get install them, or pass --install-deps)")
        deb = find_deb(args.deb, args.package, str(default_cache()))
        version = os.path.basename(deb).split("_")[1]
        dest = os.path.abspath(args.dest or os.path.join(
            default_cache(), "kbuild", "linux-" + version.split("-")[0]))
        src = os.path.join(dest, "src")
        build = os.path.join(dest, args.build_dir or "build")  # relative to DEST
        os.makedirs(build, exist_ok=True)
        done = os.path.join(build, "BUILD_DONE")
        if os.path.exists(done):
            os.unlink(done)
        log_path = os.path.join(build, "build.log")
        env = dict(os.environ, **REPRODUCIBLE_ENV)
        make = ["make", f"O={build}", "ARCH=x86_64"]
        start = time.monotonic()
        unpack(deb, src)
        lines = config_lines(args.fragment)
        configure(src, build, args.base, lines, make, env, log_path)
        log(f"building in {build} with -j{args.jobs} (log: {log_path})")
        make_start = time.monotonic()
        run(make + [f"-j{args.jobs}", "vmlinux", "modules"], cwd=src, env=env, log_path=log_path)
        seconds = round(time.monotonic() - make_start, 1)
        total = round(time.monotonic() - start, 1)
        with open(os.path.join(build, ".config"), "rb") as handle:
            config_hash = hashlib.sha256(handle.read()).hexdigest()
        with open(os.path.join(build, "modules.order")) as handle:
            modules = sum(1 for line in handle if line.strip())
        record = {"package": os.path.basename(deb), "base": args.base,
                  "fragments": [os.path.basename(f) for f in args.fragment],
                  "config_sha256": config_hash, "modules": modules, "jobs": args.jobs,
                  "gcc": tool_version(["gcc", "--version"]),
                  "ld": tool_version(["ld", "--version"]),
                  "make_seconds": seconds, "total_seconds": total}
        with open(done, "w") as handle:
            json.dump(record, handle, indent=1)
            handle.write("\n")
    except BuildError as exc:
        log(f"error: {exc}")
        return 1
    log(f"built {build} ({modules} modules): make took {seconds:.0f} s ({seconds / 60:.1f} min), "
        f"{total:.0f} s in all with unpacking and configuring")
    print(build)
    return 0


if __name__ == "__main__":
    sys.exit(main())
