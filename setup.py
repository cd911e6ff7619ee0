"""Build hook: compile the hot modules with mypyc, from the same Python source.

Everything else about the package is in pyproject.toml.  The modules its
mypy configuration types strictly (:func:`hot_modules`) are compiled to C extensions by mypyc (pyproject.toml's
build requirements bring it); the ``.py`` files stay installed beside them
and ``batchver/native.py`` decides at run time which form is used.  Where
nothing can be compiled (no C compiler or Python headers, or
``BATCHVER_PURE=1`` at install time) the install goes on without the
extensions and the pure modules run: the same bytes, more slowly.
"""

from __future__ import annotations

import hashlib
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

def hot_modules() -> list[str]:
    """The modules mypyc compiles: those pyproject.toml's mypy configuration
    types strictly (one list, so nothing is compiled that is not checked)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyproject.toml"), "rb") as handle:
        config = tomllib.load(handle)
    strict = [o for o in config["tool"]["mypy"]["overrides"] if o.get("strict")]
    return [name.replace(".", "/") + ".py" for o in strict for name in o["module"]]


HOT_MODULES = hot_modules()
RECORD = os.path.join("batchver", "_native_build.txt")
#: mypyc's shared library goes inside the package (batchver/native__mypyc...):
#: a top-level module would be invisible to an editable install.
GROUP = "batchver.native"


def _module(path: str) -> str:
    return path[:-len(".py")].replace("/", ".")


def _warn(message: str) -> None:
    print(f"batchver setup: {message}; the pure Python modules will run", file=sys.stderr)


class BuildHot(build_ext):
    """Compiles HOT_MODULES when it can; otherwise builds nothing."""

    def finalize_options(self) -> None:
        # mypyc's extensions replace the placeholders before setuptools
        # prepares them (and before it lists the outputs of an editable install)
        self.distribution.ext_modules = self._mypyc_extensions()
        super().finalize_options()
        if not self.extensions:
            self._remove_outputs()  # an earlier build's: pure must mean pure

    def _mypyc_extensions(self) -> list[Extension]:
        if os.environ.get("BATCHVER_PURE", "") not in ("", "0"):
            _warn("BATCHVER_PURE is set")
            return []
        try:
            from mypyc.build import mypycify
        except ImportError as exc:
            _warn(f"mypyc is not available ({exc})")
            return []
        try:
            return mypycify(HOT_MODULES, opt_level="3", group_name=GROUP)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a failed compile must not fail the install
            _warn(f"mypyc refused the modules ({type(exc).__name__}: {exc})")
            return []

    def run(self) -> None:
        if self.inplace:
            self._compile_bytecode()
        if not self.extensions:
            return
        try:
            super().run()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - no C compiler, no Python headers, ...
            _warn(f"compiling failed ({type(exc).__name__}: {exc})")
            self._remove_outputs()
            self.extensions = []
            return
        self._write_record()

    @staticmethod
    def _compile_bytecode() -> None:
        """Write the package's bytecode beside its sources, as pip does for
        the modules of a wheel it installs.  An editable install otherwise
        leaves that to the first import, which writes nothing where
        PYTHONDONTWRITEBYTECODE is set, so that every process (a run and each
        of its pool's workers) compiles every module that mypyc did not,
        about a tenth of a second per start.  A source edited later is
        compiled again when imported: bytecode records its source's size and
        modification time."""
        import compileall

        compileall.compile_dir("batchver", quiet=1)

    def _targets(self) -> list[str]:
        """Where the record goes: the build tree, and the source tree too
        when building in place (an editable install)."""
        out = [os.path.join(self.build_lib, RECORD)]
        if self.inplace:
            out.append(RECORD)
        return out

    def _write_record(self) -> None:
        # one line per compiled module: name, SHA-256, size and st_mtime_ns of
        # its source (plain text: the start reads it without importing json)
        lines = ["compiler mypyc\n"]
        for path in HOT_MODULES:
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            st = os.stat(path)
            lines.append(f"{_module(path)} {digest} {st.st_size} {st.st_mtime_ns}\n")
        for target in self._targets():
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as handle:
                handle.writelines(lines)

    def _remove_outputs(self) -> None:
        for name in [_module(p) for p in HOT_MODULES] + [GROUP + "__mypyc"]:
            for base in (self.build_lib, "."):
                path = os.path.join(base, self.get_ext_filename(name))
                if os.path.exists(path):
                    os.remove(path)
        for target in {*self._targets(), RECORD}:
            if os.path.exists(target):
                os.remove(target)


if __name__ == "__main__":  # (tests read hot_modules() without building)
    # Placeholders until BuildHot replaces them with mypyc's: they tell
    # setuptools the wheel is platform-specific without running mypyc for
    # metadata steps.
    setup(ext_modules=[Extension(_module(p), sources=[]) for p in HOT_MODULES],
          cmdclass={"build_ext": BuildHot})
