"""The release gate: ``batchver check`` compares a current kernel build with
a stored baseline and decides whether the kernel ABI moved in a way that
matters.

The stages live in their own modules, in the order a check runs them:

* :mod:`.baseline` reads either input form (a ``batchver run`` output
  directory, or a plain ``Module.symvers`` from any kernel build) and
  rejects anything missing, truncated or malformed with ``file:line``;
* :mod:`.classify` pairs the exports of both sides and names what changed;
* :mod:`.policy` reads stablelists and severity rules and gives every
  change a verdict (``pass``, ``warn`` or ``fail``);
* :mod:`.explain` walks both symtypes graphs to find the types whose own
  definitions changed (root causes) and diffs them token by token;
* :mod:`.provenance` compares how both sides were built, because a compiler
  or DWARF-version change alone moves CRCs;
* :mod:`.consumers` decides whether given modules load on CURRENT, and
  why not (their refusals are explained by :mod:`.explain`'s root causes);
* :mod:`.check` ties the stages into one :class:`~.check.CheckResult`;
* :mod:`.render` turns a result into text, JSON or JUnit XML, :mod:`.html`
  into a self-contained HTML page, and :mod:`.formats` picks one by name.

``batchver.cli.check.main`` is the ``batchver check`` command.
"""

from __future__ import annotations

from batchver.errors import InputError
from batchver.gate.baseline import Side, load_side
from batchver.gate.check import CheckResult, run_check

__all__ = ["CheckResult", "InputError", "Side", "load_side", "run_check"]
