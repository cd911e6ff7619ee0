"""Change one member in a header of a built 7.x kernel tree, rebuild the
object that includes it, and check that ``batchver check`` locates the root
cause at the line changed.

The tree is never touched: its sources are hard-linked into a scratch
directory (``cp -al``), the header there is replaced by an edited copy, and
the object is recompiled with kbuild's own command from its ``.cmd`` file,
pointed at the scratch sources and writing into the scratch directory.  The
tree's own object and the rebuilt one are each put in a one-module built
tree, versioned with ``batchver run --symtypes`` and compared.

    python -m tools.evidence.header_change_check --out results/header-change-7.3.4.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.helpers.roots import REPO, Roots, default_cache

DEFAULT_OLD = "\tu32\t\t\te_key;\n"
DEFAULT_NEW = "\tu64\t\t\te_key;\n"


def compile_command(cmd_file: Path, source_tree: str, scratch_src: str, out: str,
                    deps: str) -> list[str]:
    """kbuild's compiler command for the object, from its ``.cmd`` file (the
    part before the first ``;``), redirected to the scratch sources, object
    and dependency file."""
    saved = cmd_file.read_text().splitlines()[0].split(":=", 1)[1]
    words = shlex.split(saved.split(";", 1)[0])
    output = words.index("-o")
    words[output + 1] = out
    words = [f"-Wp,-MMD,{deps}" if w.startswith("-Wp,-MMD,") else w for w in words]
    return [w.replace(source_tree, scratch_src) for w in words]


def one_module_tree(root: Path, obj: str, data: bytes) -> None:
    """A built tree holding one module made of one object."""
    target = root / obj
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    (root / "modules.order").write_text(obj + "\n")
    target.with_suffix(".mod").write_text(obj + "\n")


def main() -> int:
    kbuild = default_cache() / "kbuild" / "linux-7.3.4"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=kbuild / "small",
                        help="the built object tree (default <cache>/kbuild/linux-7.3.4/small)")
    parser.add_argument("--src", type=Path, default=kbuild / "src",
                        help="its source tree (default <cache>/kbuild/linux-7.3.4/src)")
    parser.add_argument("--object", default="fs/mbcache.o")
    parser.add_argument("--header", default="include/linux/mbcache.h")
    parser.add_argument("--old", default=DEFAULT_OLD, help="the member's line as it is")
    parser.add_argument("--new", default=DEFAULT_NEW, help="the line it becomes")
    parser.add_argument("--out", type=Path, help="write a Markdown summary here")
    ns = parser.parse_args()
    tree, src = ns.tree.resolve(), ns.src.resolve()
    with tempfile.TemporaryDirectory(prefix="batchver-header-") as work:
        roots = Roots({"<work>": work})
        scratch = Path(work) / "src"
        subprocess.run(["cp", "-al", str(src), str(scratch)], check=True)
        header = scratch / ns.header
        text = header.read_text()
        if text.count(ns.old) != 1:
            sys.exit(f"{ns.header}: the line to change must occur once ({ns.old!r})")
        changed_line = text[:text.index(ns.old)].count("\n") + 1
        header.unlink()  # a new file: the hard link to the tree's stays as it was
        header.write_text(text.replace(ns.old, ns.new))
        rebuilt = Path(work) / "rebuilt.o"
        command = compile_command(tree / Path(ns.object).parent / f".{Path(ns.object).name}.cmd",
                                  str(src), str(scratch), str(rebuilt), str(Path(work) / "dep.d"))
        subprocess.run(command, cwd=tree, check=True)
        base, new = Path(work) / "base", Path(work) / "new"
        one_module_tree(base, ns.object, (tree / ns.object).read_bytes())
        one_module_tree(new, ns.object, rebuilt.read_bytes())
        env = dict(os.environ, PYTHONPATH=str(REPO))
        for name in ("base", "new"):
            subprocess.run([sys.executable, "-m", "batchver", "run", str(Path(work) / name), "-o",
                            str(Path(work) / f"out-{name}"), "--symtypes", "--quiet",
                            "--jobs", "1"], check=True, env=env)
        report_path = Path(work) / "check.json"
        status = subprocess.run([sys.executable, "-m", "batchver", "check", "--baseline",
                                 str(Path(work) / "out-base"), str(Path(work) / "out-new"),
                                 "--format", "json", "-o", str(report_path)], env=env).returncode
        report = json.loads(report_path.read_text())
        explain = subprocess.run([sys.executable, "-m", "batchver", "check", "--baseline",
                                  str(Path(work) / "out-base"), str(Path(work) / "out-new"),
                                  "--explain", report["symbols"][0]["symbol"]],
                                 env=env, capture_output=True, text=True).stdout
        member_at = [at for rc in report["root_causes"] for at in rc["diff_locations"] if at]
        expected = {"file": ns.header, "line": changed_line}
        ok = status == 1 and member_at == [expected]
        located = [f"`{at['file']}:{at['line']}`" for at in member_at]
        lines = [
            "# A header change in a built 7.3.4 tree, located by `batchver check`",
            "",
            f"Command: `{roots.command([sys.executable, *sys.argv])}`",
            "",
            f"Tree: `{roots.path(tree)}` (object tree, built with `make O=`), sources "
            f"`{roots.path(src)}`.  In `{ns.header}` line {changed_line}, "
            f"`{ns.old.strip()}` became `{ns.new.strip()}`; `{ns.object}` was recompiled with "
            "kbuild's own command from its `.cmd` file against a hard-linked copy of the sources.",
            "",
            f"* check exit status: {status} (1 = failing change)",
            f"* changed CRCs: {report['summary']['kinds']['crc_changed']}, root causes: "
            f"{len(report['root_causes'])}",
            *[f"* root cause `{rc['key']}` at `{rc['file']}:{rc['line']}`; diff: "
              + "; ".join(f"`{d}`" + (f" at `{at['file']}:{at['line']}`" if at else "")
                          for d, at in zip(rc["diff"], rc["diff_locations"]))
              for rc in report["root_causes"]],
            f"* changed member located at: {', '.join(located) or 'nowhere'}; "
            f"the line changed: `{ns.header}:{changed_line}`: "
            f"{'the same' if ok else 'DIFFERENT'}",
            "",
            f"`batchver check --explain {report['symbols'][0]['symbol']}`:",
            "",
            "```",
            roots(explain).rstrip(),
            "```",
        ]
        summary = "\n".join(lines) + "\n"
        print(summary)
        if ns.out:
            ns.out.write_text(summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
