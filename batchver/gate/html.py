"""A self-contained HTML report: one file, no network, inline CSS and a few
lines of JavaScript (column sorting and a filter box), so it can be archived
as a CI artifact and opened anywhere."""

from __future__ import annotations

from html import escape

from batchver.gate.baseline import Location
from batchver.gate.check import CheckResult, SymbolResult
from batchver.gate.classify import KIND_TITLES, SymbolChange
from batchver.gate.explain import RootCause
from batchver.gate.render import headline, path_text, problem_text, summary_lines

MAX_SYMBOLS_SHOWN = 200  # per root cause, before "and N more"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{padding:18px 28px;color:#fff}
header.fail{background:#b42318}header.pass{background:#1f7a3a}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.9;font-size:13px}
main{padding:8px 28px 40px;max-width:1500px}
h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:22px}.card span{font-size:12px;color:#5b6475}
.card.fail b{color:#b42318}.card.warn b{color:#b54708}.card.pass b{color:#1f7a3a}
.alert{background:#fff4e5;border:2px solid #f79009;border-radius:6px;padding:10px 14px;margin:12px 0}
.alert h3{margin:0 0 4px;font-size:15px;color:#93370d}
ul.plain{margin:4px 0;padding-left:20px}
pre.summary{background:#fff;border:1px solid #d5d9e0;padding:10px;border-radius:6px;white-space:pre-wrap}
section.rc{background:#fff;border:1px solid #d5d9e0;border-radius:6px;margin:10px 0;padding:8px 14px}
section.rc h3{margin:2px 0 6px;font-size:15px}
pre.diff{background:#0f172a;color:#e2e8f0;padding:8px 10px;border-radius:4px;overflow-x:auto;white-space:pre-wrap;word-break:break-word;margin:4px 0}
pre.diff .add{color:#86efac}pre.diff .del{color:#fca5a5}pre.diff .chg{color:#fcd34d}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #d5d9e0;padding:4px 7px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
th{background:#eef1f5;cursor:pointer;user-select:none;position:sticky;top:0}
th:after{content:" \\2195";color:#98a2b3;font-size:11px}
tr.fail td.v{color:#b42318;font-weight:700}tr.warn td.v{color:#b54708;font-weight:600}tr.pass td.v{color:#1f7a3a}
input#filter{padding:5px 8px;width:420px;max-width:100%;margin:6px 8px 6px 0;border:1px solid #98a2b3;border-radius:4px}
.loc{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;color:#1d4ed8}
.path{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;color:#344054}
[hidden]{display:none!important}
.muted{color:#5b6475;font-size:12px}
"""

_JS = """
const table=document.getElementById('symbols');const rows=table?[...table.tBodies[0].rows]:[];
const shown=document.getElementById('shown');const sections=[...document.querySelectorAll('section.rc')];
// Lower-cased texts are built once: a keystroke then costs one substring
// test per row, and only rows whose visibility changes touch the page.
const rowText=rows.map(r=>r.textContent.toLowerCase());
const rcText=sections.map(s=>s.textContent.toLowerCase());
function count(){if(shown){const n=rows.reduce((a,r)=>a+(r.hidden?0:1),0);
shown.textContent=n+' of '+rows.length+' shown';}}
function apply(q){rows.forEach((r,i)=>{const h=!rowText[i].includes(q);if(r.hidden!==h)r.hidden=h});
sections.forEach((s,i)=>{const h=!rcText[i].includes(q);if(s.hidden!==h)s.hidden=h});count();}
let timer=0;const f=document.getElementById('filter');
if(f){f.addEventListener('input',()=>{clearTimeout(timer);timer=setTimeout(()=>apply(f.value.trim().toLowerCase()),60)})}
function sortBy(th){const idx=[...th.parentNode.children].indexOf(th);const body=th.closest('table').tBodies[0];
const asc=th.dataset.asc!=='1';th.parentNode.querySelectorAll('th').forEach(h=>delete h.dataset.asc);
th.dataset.asc=asc?'1':'0';const key=r=>{const c=r.cells[idx];return c.dataset.k!==undefined?c.dataset.k:c.textContent};
const keyed=[...body.rows].map(r=>[key(r),r]);keyed.sort((a,b)=>{const n=parseFloat(a[0])-parseFloat(b[0]);
const r=isNaN(n)?a[0].localeCompare(b[0]):n;return asc?r:-r});const frag=document.createDocumentFragment();
keyed.forEach(k=>frag.appendChild(k[1]));body.appendChild(frag);}
document.querySelectorAll('th').forEach(th=>th.addEventListener('click',()=>sortBy(th)));
count();
"""

_VERDICT_ORDER = {"fail": 0, "warn": 1, "pass": 2, "none": 3}


def _diff_line(key: str, line: str, at: Location | None) -> str:
    cls = "add" if " added" in line or line.startswith("added") else \
        "del" if " removed" in line or line.startswith("removed") else "chg"
    where = f" ({escape(at.text())})" if at else ""
    return f'<span class="{cls}">{escape(key)}: {escape(line)}{where}</span>'


def _cards(result: CheckResult) -> str:
    s = result.summary()
    cards = [(s["verdicts"]["fail"], "failing", "fail"), (s["verdicts"]["warn"], "warned", "warn"),
             (s["verdicts"]["pass"], "accepted", "pass"), (s["kinds"]["unchanged"], "unchanged", ""),
             (s["root_causes"], "root causes", ""), (s["protected"], "protected", "")]
    cards += [(n, KIND_TITLES[k], "") for k, n in s["kinds"].items() if n and k != "unchanged"]
    return '<div class="cards">' + "".join(
        f'<div class="card {cls}"><b>{n}</b><span>{escape(label)}</span></div>'
        for n, label, cls in cards) + "</div>"


def _root_cause(rc: RootCause, by_key: dict[str, SymbolResult]) -> str:
    syms = sorted((by_key[k] for k in rc.symbols),
                  key=lambda s: (_VERDICT_ORDER[s.decision.verdict], s.change.key))
    fails = sum(1 for s in syms if s.decision.verdict == "fail")
    items = "".join(f"<li><code>{escape(s.change.key)}</code> "
                    f"<span class='muted'>{s.decision.verdict}</span>{_path(s, rc.id)}</li>"
                    for s in syms[:MAX_SYMBOLS_SHOWN])
    if len(syms) > MAX_SYMBOLS_SHOWN:
        items += f"<li class='muted'>... and {len(syms) - MAX_SYMBOLS_SHOWN} more (see the table)</li>"
    diff = "\n".join(_diff_line(rc.key, line, at)
                     for line, at in zip(rc.diff, rc.diff_locations))
    if rc.same_symbols_as:
        items = (f"<li>the same symbols as <a href='#{rc.same_symbols_as}'>"
                 f"{rc.same_symbols_as}</a></li>")
    where = f' <span class="loc">{escape(rc.location.text())}</span>' if rc.location else ""
    return (f'<section class="rc" id="{rc.id}"><h3>{rc.id}: <code>{escape(rc.key)}</code>{where} '
            f'{rc.status} &mdash; {len(syms)} symbol(s), {fails} failing</h3>'
            f'<pre class="diff">{diff}</pre>'
            f'<details><summary>affected symbols</summary><ul class="plain">{items}</ul></details>'
            "</section>")


def _change_text(change: SymbolChange) -> str:
    """The change column: kinds, with values except the CRCs (they have
    their own columns)."""
    return "; ".join(KIND_TITLES[k] if k in ("crc_changed", "crc_unavailable") else detail
                     for k, detail in zip(change.kinds, change.details()))


def _path(sym: SymbolResult, rc_id: str) -> str:
    text = path_text(sym, rc_id)
    return f' <span class="path">{escape(text)}</span>' if " -> " in text else ""


def _causes(sym: SymbolResult, by_id: dict[str, RootCause]) -> str:
    """The root-cause cell: each cause with its location and the path that
    reaches it, so the filter finds a symbol by the type that broke it."""
    e = sym.explanation
    if e is None:
        return ""
    if not e.root_causes:
        return escape(e.status)
    cells = []
    for rc_id in e.root_causes:
        rc = by_id[rc_id]
        where = f' <span class="loc">{escape(rc.location.text())}</span>' if rc.location else ""
        cells.append(f'<div><a href="#{rc_id}">{rc_id}</a> <code>{escape(rc.key)}</code>{where}'
                     f"{_path(sym, rc_id)}</div>")
    return "".join(cells)


def _row(sym: SymbolResult, by_id: dict[str, RootCause]) -> str:
    c = sym.change
    causes = _causes(sym, by_id)
    old = c.old.crc_text if c.old else ""
    new = c.new.crc_text if c.new else ""
    verdict = sym.decision.verdict
    return (f'<tr class="{verdict}"><td class="v" data-k="{_VERDICT_ORDER[verdict]}">{verdict}</td>'
            f"<td><code>{escape(c.symbol)}</code></td><td>{escape(c.module)}</td>"
            f"<td>{escape(_change_text(c))}</td><td><code>{old or ''}</code></td>"
            f"<td><code>{new or ''}</code></td><td>{causes}</td>"
            f"<td>{'yes' if sym.protected else ''}</td>"
            f"<td>{escape(sym.decision.rule or 'default')}</td></tr>")


def _consumers(result: CheckResult) -> list[str]:
    """Refusals grouped by root cause, then a table of every module that
    refuses or could not be read."""
    report = result.consumers
    assert report is not None
    by_id = {rc.id: rc for rc in result.root_causes}
    parts = []
    groups = report.by_root_cause()
    if groups:
        parts.append(f"<h2>Consumers refusing by root cause ({len(groups)})</h2>")
        for cause, refusals in groups.items():
            rc = by_id[cause]
            modules = sorted({r.module or r.path for r, _ in refusals})
            symbols = sorted({p.symbol for _, p in refusals})
            parts.append(
                f'<section class="rc"><h3>{len(modules)} module(s) refuse because '
                f'<a href="#{rc.id}"><code>{escape(rc.key)}</code></a> {rc.status}</h3>'
                f"<p>symbols: {', '.join(f'<code>{escape(n)}</code>' for n in symbols)}</p>"
                f"<details><summary>modules</summary><ul class='plain'>"
                + "".join(f"<li><code>{escape(m)}</code></li>" for m in modules)
                + "</ul></details></section>")
    rows = [r for r in report.results if r.error is not None or r.problems or r.warnings]
    parts.append(f"<h2>Consumers ({len(report.results)} modules, {len(report.refusing)} refuse, "
                 f"{len(report.unreadable)} unreadable)</h2>")
    if rows:
        parts.append('<div class="scroll"><table id="consumers"><thead><tr><th>loads</th>'
                     "<th>module</th><th>path</th><th>problems</th></tr></thead><tbody>")
        for r in rows:
            state = "error" if r.error is not None else "no" if r.problems else "yes"
            verdict = "fail" if r.error is not None or r.problems else "warn"
            lines = [r.error] if r.error is not None else \
                [problem_text(p) + (f" (root cause {', '.join(p.root_causes)})"
                                    if p.root_causes else "") for p in r.problems] + \
                [f"warning: {problem_text(p)}" for p in r.warnings]
            parts.append(f'<tr class="{verdict}"><td class="v">{state}</td>'
                         f"<td><code>{escape(r.module or '')}</code></td>"
                         f"<td>{escape(r.path)}</td><td>"
                         + "<br>".join(escape(line) for line in lines) + "</td></tr>")
        parts.append("</tbody></table></div>")
    return parts


def render_html(result: CheckResult) -> str:
    by_key = {s.change.key: s for s in result.symbols}
    source = "" if result.baseline is None else f"{escape(result.baseline.path)} &rarr; "
    by_id = {rc.id: rc for rc in result.root_causes}
    parts = [f'<header class="{result.verdict}"><h1>{escape(headline(result))}</h1>'
             f"<p>{source}{escape(result.current.path)}</p></header>",
             "<main>", _cards(result)]
    if result.prominent:
        parts.append('<div class="alert"><h3>The two builds differ in ways that move CRCs by '
                     'themselves</h3><ul class="plain">' + "".join(
                         f"<li>{escape(d.text())}</li>" for d in result.prominent) + "</ul></div>")
    if result.warnings:
        parts.append('<div class="alert"><h3>Warnings</h3><ul class="plain">' + "".join(
            f"<li>{escape(w)}</li>" for w in result.warnings) + "</ul></div>")
    parts.append('<h2>Summary</h2><pre class="summary">'
                 + escape("\n".join(summary_lines(result))) + "</pre>")
    if result.root_causes:
        parts.append(f"<h2>Root causes ({len(result.root_causes)})</h2>"
                     "<p class='muted'>Named types whose own definitions differ, each with the "
                     "changed symbols it explains.</p>")
        parts.extend(_root_cause(rc, by_key) for rc in result.root_causes)
    if result.consumers is not None:
        parts.extend(_consumers(result))
    rows = sorted(result.changed, key=lambda s: (_VERDICT_ORDER[s.decision.verdict],
                                                 s.change.module != "vmlinux", s.change.key))
    if result.baseline is not None:  # a consumers-only check compares no symbols
        parts.append(f"<h2>Changed symbols ({len(rows)})</h2>"
                     '<input id="filter" placeholder="filter (symbol, module, change, root-cause '
                     'type, file...)"><span id="shown" class="muted"></span>'
                     '<div class="scroll"><table id="symbols"><thead><tr><th>verdict</th><th>symbol</th><th>module</th>'
                     "<th>change</th><th>baseline CRC</th><th>current CRC</th><th>root cause</th>"
                     "<th>protected</th><th>decided by</th></tr></thead><tbody>"
                     + "".join(_row(s, by_id) for s in rows) + "</tbody></table></div>")
    if result.rules:
        parts.append("<h2>Rules</h2><table><thead><tr><th>rule</th><th>source</th>"
                     "<th>symbols named</th><th>changes decided</th></tr></thead><tbody>" + "".join(
                         f"<tr><td><code>{escape(r.text)}</code>"
                         f"{' <b>STALE</b>' if r.matched_symbols == 0 else ''}</td>"
                         f"<td>{escape(r.source)}</td><td>{r.matched_symbols}</td>"
                         f"<td>{r.decided}</td></tr>" for r in result.rules) + "</tbody></table>")
    notes = [d.text() for d in result.differences if not d.moves_crcs] + result.notes
    if notes:
        parts.append('<h2>Notes</h2><ul class="plain">' + "".join(
            f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</main>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(headline(result))}</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + f"<script>{_JS}</script></body></html>\n")
