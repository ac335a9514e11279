"""One self-contained HTML page for a results folder: what an analyst sends a colleague.

The page embeds every figure (PNG as data URIs), the outcome table, the run's manifest and the
scenario's sources and assumptions. It reads saved outputs only.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from sim.errors import UsageError
from sim.execution.outdir import read_json, read_results_yaml
from sim.execution.storage import atomic_write_bytes
from sim.safety import read_limited

MAX_FIGURE_BYTES = 20_000_000  # a PNG of ours is well under 1 MB

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em
auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:2em} table{border-collapse:collapse;margin:1em 0;font-size:.92em}
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee;margin:.5em 0} .note{color:#555;font-size:.9em}
.src{color:#0b5394} .asm{color:#8a5300} details{margin:1em 0}
"""


def _e(value: object) -> str:
    """Any field of a results folder as HTML text: the folder may come from anyone."""
    return html.escape(str(value))


def _figure(path: Path) -> str:
    data = base64.b64encode(read_limited(path, MAX_FIGURE_BYTES)).decode()
    title = path.stem.replace("_", " ")
    return (f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
            f"<figcaption class=note>{html.escape(title)}</figcaption></figure>")


def _outcome_table(outcomes: list[dict], descriptions: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><td>{_e(o['outcome'])}</td>"
        f"<td>{_e(descriptions.get(o['outcome'], ''))}</td>"
        f"<td class=num>{o['probability']:.1%}</td>"
        f"<td class=num>{o['low']:.1%} – {o['high']:.1%}</td>"
        f"<td class=num>{_e(o['count'])} / {_e(o['runs'])}</td></tr>" for o in outcomes)
    return ("<table><tr><th>outcome</th><th>meaning</th><th>probability</th>"
            f"<th>95% interval</th><th>runs</th></tr>{rows}</table>")


def _comparison_table(comparison: dict) -> str:
    rows = []
    for r in comparison["rows"]:
        diff = ""
        if "difference" in r:
            diff = (f"{100 * r['difference']:+.1f} pts [{100 * r['difference_low']:+.1f}, "
                    f"{100 * r['difference_high']:+.1f}]")
        rows.append(f"<tr><td>{_e(r['outcome'])}</td><td>{_e(r['scenario'])}"
                    f"</td><td class=num>{r['probability']:.1%}</td><td class=num>{diff}</td>"
                    "</tr>")
    return ("<table><tr><th>outcome</th><th>scenario</th><th>probability</th>"
            f"<th>vs {_e(comparison['scenarios'][0])} (paired 95%)</th></tr>"
            + "".join(rows) + "</table>")


def _provenance(rows: list[dict]) -> str:
    """Sources and assumptions, counted as they are.

    No "seed article" unless a scenario names one (issue #16); values with neither a source
    nor an assumption are counted apart, not as assumptions.
    """
    sources = [r for r in rows if r["kind"] == "source"]
    assumptions = [r for r in rows if r["kind"] == "assumption"]
    unnoted = [r for r in rows if r["kind"] not in ("source", "assumption")]

    def table(items: list[dict], cls: str) -> str:
        body = "".join(f"<tr><td><code>{_e(r['path'])}</code></td>"
                       f"<td class=num>{_e(r['value'])}</td>"
                       f"<td class={cls}>{_e(r['note'] or 'no note')}</td></tr>"
                       for r in items)
        return f"<table><tr><th>value</th><th></th><th>note</th></tr>{body}</table>"

    def plural(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    parts = [f"<details open><summary>{plural(len(sources), 'value quotes', 'values quote')}"
             f" a source</summary>{table(sources, 'src')}</details>" if sources else
             "<p>No value quotes a source.</p>",
             f"<details><summary>{plural(len(assumptions), 'value is an', 'values are')} "
             f"assumption{'' if len(assumptions) == 1 else 's'}</summary>"
             f"{table(assumptions, 'asm')}</details>"]
    if unnoted:
        parts.append(f"<details><summary>{plural(len(unnoted), 'value has', 'values have')} "
                     f"no source or assumption noted</summary>{table(unnoted, 'asm')}"
                     "</details>")
    return "".join(parts)


def _number(x: float) -> str:
    """A value for a sentence: 1,920,000 rather than 1.92e+06, three digits when small."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _splits(folder: Path) -> str:
    """Where the ensemble splits (``sim.plots.ensemble_splits``), as a list."""
    from sim.plots import ensemble_splits

    items = []
    for row in ensemble_splits(folder):
        label = html.escape(row["series"].replace("~", " – "))
        if row["kind"] == "levels":
            shares = ", ".join(f"{html.escape(str(k))} {v:.0%}" for k, v in row["shares"].items())
            items.append(f"<li><b>{label}</b> on the last day: {shares}</li>")
        else:
            p = "p &lt; 0.001" if row["p"] < 0.001 else f"p = {row['p']:.3f}"
            items.append(f"<li><b>{label}</b>: bimodal, {row['low_share']:.0%} of runs near "
                         f"{_number(row['low_median'])} and {row['high_share']:.0%} near "
                         f"{_number(row['high_median'])} (Hartigan's dip test {p}; split at "
                         f"{_number(row['threshold'])})</li>")
    if not items:
        return ""
    return ("<h2>Where the runs split</h2><p class=note>Series of levels whose last day has at "
            "least two levels held by 5% of runs or more, and final values with two modes "
            "(Hartigan's dip test at 1%, each mode at least 5% of runs, the modes' medians at "
            "least 0.1 apart for affinities, 0.05 for pressure, a tenth of the value for "
            "counts). A median or a single band would hide these.</p>"
            f"<ul>{''.join(items)}</ul>")


def _degeneracy(summary: dict) -> str:
    """What the scenario cannot produce as written (``sim.analysis.degeneracy``)."""
    from sim.analysis import degeneracy

    try:  # summary.json is untrusted input: a damaged one loses this section, not the page
        found = degeneracy(summary["outcomes"], summary.get("indicators", []))
    except (KeyError, TypeError, ValueError, AttributeError):
        return "<p class=note>summary.json does not say what the scenario cannot vary.</p>"
    items = [("Outcomes in no run (0%)", found["never"]),
             ("Outcomes in every run (100%)", found["always"]),
             (f"Indicators that never vary ({len(found['constant'])} of "
              f"{len(summary.get('indicators', []))})", found["constant"])]
    body = "".join(f"<p>{_e(title)}: "
                   + ", ".join(f"<code>{_e(x)}</code>" for x in names) + "</p>"
                   for title, names in items if names)
    return ("<h3>What this scenario cannot vary</h3><p class=note>Outcomes that never or always "
            "happen and indicators with one value in every run: levers never pulled, states "
            "fixed from day 0. Check that each is right for the scenario.</p>"
            + (body or "<p>Nothing: every outcome and indicator varies.</p>"))


def write_report(folder: Path) -> Path:
    """Write ``folder/report.html`` (drawing the figures first if there are none)."""
    folder = Path(folder)
    figures = folder / "figures"
    if figures.is_symlink():  # its images would be embedded in a page meant to be sent on
        raise UsageError(f"{figures} is a symlink; remove it and write the report again")
    drawn = [p for p in figures.glob("*.png") if not p.stem.startswith("discovery")]
    if not drawn:  # discover's figures alone are not the folder's figures
        from sim.plots import plot_folder

        plot_folder(folder, ("png",))
    scenario = read_results_yaml(folder / "scenario.resolved.yaml")
    manifest = {}
    if (folder / "manifest.json").exists():
        manifest = read_json(folder / "manifest.json")
    title = scenario.get("name") or manifest.get("scenario_name") or folder.name
    parts = [f"<h1>{_e(title)}</h1>"]
    if scenario.get("description"):
        parts.append(f"<p>{_e(scenario['description'])}</p>")
    parts.append("<p class=note>Probabilities are shares of simulated runs under the "
                 "scenario's stated assumptions (listed at the end), with Wilson 95% "
                 "intervals; they are not forecasts.</p>")
    descriptions = {k: v.get("description", "") for k, v in scenario.get("outcomes",
                                                                          {}).items()}
    if (folder / "summary.json").exists():
        summary = read_json(folder / "summary.json")
        parts.append(f"<h2>Outcomes ({_e(summary['runs'])} runs, seed {_e(summary['seed'])})"
                     "</h2>")
        parts.append(_outcome_table(summary["outcomes"], descriptions))
        from sim.validation.recalibration import calibrated_html, mapping_kinds

        parts.append(calibrated_html(folder, summary["outcomes"], scenario.get("name"),
                                     mapping_kinds(scenario)))
        parts.append(_splits(folder))
        parts.append(_degeneracy(summary))
        from sim.reachability import extremes_html

        parts.append(extremes_html(folder, summary, manifest))
    if (folder / "comparison.json").exists():
        comparison = read_json(folder / "comparison.json")
        parts.append("<h2>Comparison (common random numbers)</h2>")
        parts.append(f"<p>Paired intervals are {comparison['paired_narrowing']:.1f}x narrower "
                     "(median over outcomes) than with independent seeds.</p>")
        parts.append(_comparison_table(comparison))
    if (folder / "design.json").exists():
        design = read_json(folder / "design.json")
        items = "".join(f"<li><code>{_e(p['path'])}</code>: "
                        f"{_e(p['levels'] if p['levels'] else f'{p['low']} to {p['high']}')}"
                        "</li>" for p in design["parameters"])
        parts.append(f"<h2>Sweep</h2><p>{_e(design['kind'])} design, {_e(design['points'])} "
                     f"points x {_e(design['reps'])} replications.</p><ul>{items}</ul>")
    if (folder / "discovery.json").exists():
        from sim.discovery import discovery_html

        try:
            parts.append(discovery_html(read_json(folder / "discovery.json")))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise UsageError(f"{folder / 'discovery.json'} is damaged; run sim discover "
                             "again") from None
    from sim.validation.reporting import mode_note, score_section

    parts.append(mode_note(manifest))  # empty for a point run
    parts.append(score_section(folder))  # empty unless `sim score` has scored this folder
    pngs = sorted((p for p in figures.glob("*.png") if p.is_file() and not p.is_symlink()),
                  key=lambda p: (not p.stem.startswith(
        ("outcomes", "comparison")), p.stem))
    if pngs:
        parts.append("<h2>Figures</h2>")
        parts.extend(_figure(p) for p in pngs)
    if manifest:
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                       for k, v in manifest.items())
        parts.append(f"<h2>Manifest</h2><table>{rows}</table>")
    if (folder / "provenance.json").exists():
        parts.append("<h2>Sources and assumptions</h2>")
        parts.append(_provenance(read_json(folder / "provenance.json")))
    page = ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>")
    path = folder / "report.html"
    atomic_write_bytes(path, page.encode())
    return path
