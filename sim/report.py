"""One self-contained HTML page for a results folder: what an analyst sends a colleague.

The page embeds every figure (PNG as data URIs), the outcome table, the run's manifest and the
scenario's sources and assumptions. It reads saved outputs only.

Why a template (``sim/templates/report.html.j2``, Jinja2 with autoescaping): a results folder
may come from anyone, so every value in it must reach the page as text. With autoescaping that
is the default, not a call to remember at each of a hundred f-string fields; this module only
builds the context (plain values, formatted), and the template lays it out. The only markup
passed in is three sections other modules write with their own escaping (``calibrated_html``,
``extremes_html``, ``discovery_html``), marked safe by name in ``_sections``.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from sim.analysis import plural, prior_text
from sim.errors import UsageError
from sim.execution.outdir import read_json, read_results_yaml
from sim.execution.storage import atomic_write_bytes
from sim.safety import read_limited

MAX_FIGURE_BYTES = 20_000_000  # a PNG of ours is well under 1 MB

TEMPLATE = "report.html.j2"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em
auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:2em} table{border-collapse:collapse;margin:1em 0;font-size:.92em}
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee;margin:.5em 0} .note{color:#555;font-size:.9em}
.src{color:#0b5394} .asm{color:#8a5300} details{margin:1em 0} figure{margin:1.5em 0}
figcaption{max-width:60em} h3.chapter{margin-top:2em}
"""


def _environment():
    """The Jinja2 environment: autoescaping on for every template, undefined names an error."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True)


def render(context: dict[str, Any]) -> str:
    """The page for a context ``write_report`` built (autoescaped)."""
    return _environment().get_template(TEMPLATE).render(**context)


def _number(x: float) -> str:
    """A value for a sentence: 1,920,000 rather than 1.92e+06, three digits when small."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _figure(path: Path, caption: str) -> dict[str, str]:
    data = base64.b64encode(read_limited(path, MAX_FIGURE_BYTES)).decode()
    return {"name": path.stem, "alt": caption.split(":", 1)[0], "data": data,
            "caption": caption}


def _outcomes(outcomes: list[dict], descriptions: dict[str, str]) -> list[dict]:
    return [{"outcome": o["outcome"], "meaning": descriptions.get(o["outcome"], ""),
             "probability": f"{o['probability']:.1%}", "low": f"{o['low']:.1%}",
             "high": f"{o['high']:.1%}", "count": o["count"], "runs": o["runs"]}
            for o in outcomes]


def _splits(folder: Path) -> list[dict]:
    """Where the ensemble splits (``sim.plots.ensemble_splits``), as rows of text."""
    from sim.plots import ensemble_splits

    rows = []
    for row in ensemble_splits(folder):
        label = row["series"].replace("~", " – ")
        if row["kind"] == "levels":
            rows.append({"kind": "levels", "label": label, "shares": ", ".join(
                f"{k} {v:.0%}" for k, v in row["shares"].items())})
        else:
            rows.append({"kind": "values", "label": label,
                         "low_share": f"{row['low_share']:.0%}",
                         "high_share": f"{row['high_share']:.0%}",
                         "low_median": _number(row["low_median"]),
                         "high_median": _number(row["high_median"]),
                         "p": "p < 0.001" if row["p"] < 0.001 else f"p = {row['p']:.3f}",
                         "threshold": _number(row["threshold"])})
    return rows


def _degeneracy(summary: dict) -> list[tuple[str, list[str]]] | None:
    """What the scenario cannot produce as written (``sim.analysis.degeneracy``), or None."""
    from sim.analysis import degeneracy

    try:  # summary.json is untrusted input: a damaged one loses this section, not the page
        found = degeneracy(summary["outcomes"], summary.get("indicators", []))
        items = [("Outcomes in no run (0%)", found["never"]),
                 ("Outcomes in every run (100%)", found["always"]),
                 (f"Indicators that never vary ({len(found['constant'])} of "
                  f"{len(summary.get('indicators', []))})", found["constant"])]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return [(title, [str(n) for n in names]) for title, names in items if names]


def _policies(policies: dict) -> dict:
    """A sweep's outcomes per policy, with the paired difference against the reference."""
    rows = []
    for r in policies["rows"]:
        diff = ""
        if r.get("difference") is not None:
            diff = (f"{100 * float(r['difference']):+.1f} pts "
                    f"[{100 * float(r['difference_low']):+.1f}, "
                    f"{100 * float(r['difference_high']):+.1f}]")
        rows.append({"outcome": str(r["outcome"]), "policy": str(r["policy"]),
                     "probability": f"{float(r['probability']):.1%}",
                     "interval": f"[{float(r['low']):.1%}, {float(r['high']):.1%}]",
                     "difference": diff})
    return {"reference": str(policies["reference"]), "rows": rows,
            "count": len(policies["policies"]), "points": int(policies["points"]),
            "reps": int(policies["reps"])}


def _comparison(folder: Path, comparison: dict) -> dict:
    """The comparison table, with the effects that are the counterfactual's premise marked."""
    from sim.plots import constructed_effects

    constructed = constructed_effects(folder, comparison)
    rows = []
    for r in comparison["rows"]:
        diff = ""
        if "difference" in r:
            diff = (f"{100 * r['difference']:+.1f} pts [{100 * r['difference_low']:+.1f}, "
                    f"{100 * r['difference_high']:+.1f}]")
        rows.append({"outcome": r["outcome"], "scenario": r["scenario"],
                     "probability": f"{r['probability']:.1%}", "difference": diff,
                     "by_construction": (r["outcome"], r["scenario"]) in constructed})
    return {"narrowing": f"{comparison['paired_narrowing']:.1f}",
            "baseline": comparison["scenarios"][0], "rows": rows,
            "constructed": [{"outcome": o, "scenario": s, "why": why}
                            for (o, s), why in constructed.items()]}


def _design(design: dict) -> dict:
    return {"kind": design["kind"], "points": design["points"], "reps": design["reps"],
            "parameters": [{"path": p["path"], "values": p["levels"] if p["levels"]
                            else f"{p['low']} to {p['high']}"} for p in design["parameters"]]}


def _interval(value: float, half: float) -> str:
    return f"{value:.2f} [{value - half:.2f}, {value + half:.2f}]"


def sensitivity_section(sensitivity: dict, base_samples: int | None = None) -> dict:
    """Every outcome's indices as a table with 95% intervals, and a word on estimation noise.

    A Sobol index below 0 or above 1 cannot be a share of variance: it is the estimator's
    noise (few base samples, replication noise in each point's probability), and the page
    says so beside the interval, which is what to read.

    Args:
        sensitivity: ``sensitivity.json`` as parsed.
        base_samples: The Sobol design's base samples N (its points are N x (parameters + 2)),
            for the advice.
    """
    sobol = sensitivity["method"] == "sobol"
    params = [str(p) for p in sensitivity["parameters"]]
    more = (f"more base samples than {base_samples} (--points, points=)" if base_samples
            else "more base samples (--points, points=)")

    def noise(name: str, key: str, value: float, half: float) -> str | None:
        if 0.0 <= value <= 1.0:
            return None
        low, high = (min(1.0, max(0.0, v)) for v in (value - half, value + half))
        where = "below 0" if value < 0 else "above 1"
        read = (f"its whole interval lies {where}, so it says only that the index is near "
                f"{low:.0f}" if low == high else
                f"read the part of its interval within 0 to 1 ({low:.2f} to {high:.2f})")
        return (f"{name}: {key} {_interval(value, half)} is {where}, which a share of "
                f"variance cannot be: estimation noise; {read}. {more[0].upper()}{more[1:]} "
                "and more replications per point narrow it.")

    targets = []
    for target, res in sensitivity["results"].items():
        if not str(target).startswith("outcome."):
            continue
        rows, notes = [], []
        for i, name in enumerate(params):
            if sobol:
                s1, s1c, st, stc = (float(res[k][i]) for k in ("S1", "S1_conf", "ST",
                                                                  "ST_conf"))
                rows.append({"parameter": name, "values": [_interval(s1, s1c),
                                                           _interval(st, stc)]})
                notes += [n for n in (noise(name, "S1", s1, s1c), noise(name, "ST", st, stc))
                          if n]
            else:
                mu, muc, sigma = (float(res[k][i]) for k in ("mu_star", "mu_star_conf",
                                                            "sigma"))
                rows.append({"parameter": name, "values": [_interval(mu, muc),
                                                           f"{sigma:.2f}"]})
        targets.append({"target": str(target).removeprefix("outcome."), "rows": rows,
                        "noise": notes})
    if sobol:
        return {"method_name": "Sobol indices", "headers": ["S1 [95%]", "ST [95%]"],
                "targets": targets,
                "explanation": "Per outcome and swept parameter, the share of the variance of "
                "the outcome's probability across the sweep that the parameter explains alone "
                "(S1) and with its interactions (ST), with 95% bootstrap intervals (SALib). "
                "Indices lie between 0 and 1; an estimate outside is noise, noted below its "
                "table."}
    return {"method_name": "Morris screening", "headers": ["mu* [95%]", "sigma"],
            "targets": targets,
            "explanation": "Per outcome and swept parameter, mu* (the mean absolute effect of "
            "a step in the parameter on the outcome's probability) with its 95% interval, and "
            "sigma (its spread: interactions or non-linearity)."}


def _mode(manifest: dict, folder: Path) -> dict | None:
    """Which values each run drew (``--uncertain``/``--posterior``), or None for a point run."""
    if not isinstance(manifest, dict):
        return None
    varied = manifest.get("varied")
    varied = varied if isinstance(varied, dict) else {}
    if manifest.get("mode") == "uncertain":
        return {"kind": "uncertain", "items": [(str(p), prior_text(d))
                                               for p, d in varied.items()]}
    if manifest.get("mode") != "posterior":
        return None
    ess = varied.get("effective_sample_size")
    ess = (f"{ess:,.0f}" if isinstance(ess, int | float) and math.isfinite(ess) else "?")
    figure = None
    path = folder / "figures" / "posterior.png"
    if path.is_file() and not path.is_symlink():
        from sim.plots import figure_story

        figure = _figure(path, figure_story(["posterior"])[0]["caption"])
    return {"kind": "posterior", "posterior": str(varied.get("posterior", "")), "ess": ess,
            "figure": figure}


def _score(folder: Path) -> dict | None:
    """The scores of a scored folder (``score.json``), formatted; None when not scored."""
    path = folder / "score.json"
    if not path.exists():
        return None
    try:  # score.json is untrusted input: bounded read, and any odd content is one line
        return _score_context(read_json(path))
    except (UsageError, KeyError, TypeError, ValueError, AttributeError, IndexError):
        return {"damaged": True}


def _score_context(score: dict) -> dict:
    from sim.validation.reporting import reliability_png

    def num(x, fmt: str) -> str:
        return "" if x is None else format(x, fmt)

    events, summary = score["events"], score["summary"]
    out: dict[str, Any] = {"damaged": False, "observations": str(score.get("observations", "")),
                           "means": "", "coverage": "", "never_note": "", "reliability": None}
    if "brier" in summary:
        out["means"] = (f"Mean Brier {summary['brier']:.3f} (skill "
                        f"{summary['brier_skill']:+.2f}), mean log score "
                        f"{summary['log_score']:.3f} (skill {summary['log_skill']:+.2f}) over "
                        f"{summary['events']} events.")
    if "coverage90" in summary:
        out["coverage"] = (f"{summary['coverage50']:.0%} of observed quantities fall in the "
                           f"runs' 50% intervals, {summary['coverage90']:.0%} in their 90% "
                           "intervals.")
    out["events"] = [{"outcome": e["outcome"], "happened": "yes" if e["happened"] else "no",
                      "probability": f"{e['probability']:.1%}", "brier": f"{e['brier']:.3f}",
                      "log_score": f"{e['log_score']:.3f}", "source": e["source"]}
                     for e in events]
    quantities, nevers = [], set()
    for kind, r in ([("day", r) for r in score.get("days_of_events", [])]
                    + [("value", r) for r in score.get("quantities", [])]):
        never = r.get("never_day") if kind == "day" else None

        def day(x, never=never) -> str:
            if never is not None and x is not None and x >= never:
                nevers.add(never)
                return "never"  # the event did not happen within the run: not a day
            return num(x, ".4g")

        quantities.append({
            "name": f"day of {r['outcome']}" if kind == "day" else r["indicator"],
            "observed": day(r["observed"]), "median": day(r["median"]),
            "low": day(r["interval90"]["low"]), "high": day(r["interval90"]["high"]),
            "crps": num(r["crps"], ".4g"), "pit": num(r["pit"], ".2f"), "source": r["source"]})
    out["quantities"] = quantities
    if nevers:
        out["never_note"] = ("'never': the event did not happen within the days simulated "
                             f"(scored as day {', '.join(str(n) for n in sorted(nevers))}, the "
                             "day after the last).")
    if events:
        png = base64.b64encode(reliability_png(events, score.get("reliability", []))).decode()
        out["reliability"] = {
            "name": "reliability", "alt": "reliability diagram", "data": png,
            "caption": f"Reliability of the {len(events)} scored event probabilities: each "
            "grey dot an event (0 did not happen, 1 did), the blue points the observed "
            "frequency in each bin of forecasts with its count n; forecasts on the dashed "
            "diagonal are calibrated. With few events the bins are wide: read the counts."}
    return out


def _provenance(rows: list[dict]) -> dict:
    """Sources and assumptions, counted as they are.

    No "seed article" unless a scenario names one (issue #16); values with neither a source
    nor an assumption are counted apart, not as assumptions.
    """
    sources = [r for r in rows if r["kind"] == "source"]
    # a value with a quote and an assumption is listed under both, each with its own note
    assumptions = [r for r in rows if r["kind"] == "assumption"] + [
        {**r, "note": r["assumption"]} for r in sources
        if isinstance(r.get("assumption"), str) and r["assumption"]]
    unnoted = [r for r in rows if r["kind"] not in ("source", "assumption")]
    return {"sources": sources, "assumptions": assumptions, "unnoted": unnoted,
            "sources_title": f"{plural(len(sources), 'value quotes', 'values quote')} a "
            "source",
            "assumptions_title": f"{plural(len(assumptions), 'value is an', 'values are')} "
            f"assumption{'' if len(assumptions) == 1 else 's'}",
            "unnoted_title": f"{plural(len(unnoted), 'value has', 'values have')} no source "
            "or assumption noted"}


def _chapters(figures: Path, shown_elsewhere: set[str]) -> list[dict]:
    """The folder's figures as chapters of a story (``sim.plots.figure_story``)."""
    from sim.plots import figure_story

    pngs = {p.stem: p for p in figures.glob("*.png") if p.is_file() and not p.is_symlink()}
    chapters: list[dict] = []
    for item in figure_story(sorted(set(pngs) - shown_elsewhere)):
        if not chapters or chapters[-1]["title"] != item["chapter"]:
            chapters.append({"title": item["chapter"], "figures": []})
        chapters[-1]["figures"].append(_figure(pngs[item["stem"]], item["caption"]))
    return chapters


def _sections(folder: Path, summary: dict, scenario: dict, manifest: dict) -> dict:
    """Sections other modules write as HTML with their own escaping (marked safe here)."""
    from markupsafe import Markup

    from sim.reachability import extremes_html
    from sim.validation.recalibration import calibrated_html, mapping_kinds

    return {"calibrated": Markup(calibrated_html(folder, summary["outcomes"],
                                                 scenario.get("name"),
                                                 mapping_kinds(scenario))),
            "extremes": Markup(extremes_html(folder, summary, manifest, runs_reach(folder)))}


def runs_reach(folder: Path) -> dict[str, dict]:
    """How close each deal came to acceptance in a results folder's runs.

    ``deal_reach`` of its ``reach.*`` columns, or nothing for a folder written before they
    existed.
    """
    from sim.errors import SimError
    from sim.execution.storage import read_runs, table_columns
    from sim.reachability import deal_reach

    path = Path(folder) / "runs.parquet"
    try:
        names = [c for c in table_columns(path) if c.startswith("reach.")]
        return deal_reach(read_runs(path, names)) if names else {}
    except (SimError, OSError):
        return {}


def write_report(folder: Path) -> Path:
    """Write ``folder/report.html`` (drawing the figures first if there are none)."""
    from markupsafe import Markup

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
    descriptions = {k: v.get("description", "") for k, v in scenario.get("outcomes",
                                                                          {}).items()}
    context: dict[str, Any] = {
        "css": Markup(CSS), "title": scenario.get("name") or manifest.get("scenario_name")
        or folder.name, "description": scenario.get("description") or "",
        "summary": None, "splits": [], "degeneracy": None, "comparison": None,
        "policies": None,
        "design": None, "sensitivity": None, "discovery": "", "mode": None, "score": None,
        "chapters": [], "manifest": [(k, v) for k, v in manifest.items()],
        "provenance": None}
    if (folder / "summary.json").exists():
        summary = read_json(folder / "summary.json")
        context["summary"] = {"runs": summary["runs"], "seed": summary["seed"],
                              "outcomes": _outcomes(summary["outcomes"], descriptions),
                              **_sections(folder, summary, scenario, manifest)}
        context["splits"] = _splits(folder)
        context["degeneracy"] = _degeneracy(summary)
    if (folder / "comparison.json").exists():
        comparison = read_json(folder / "comparison.json")
        context["comparison"] = _comparison(folder, comparison)
        if not scenario.get("name") and not manifest.get("scenario_name"):
            # a comparison folder holds no one scenario: name the page by what it compares
            names = [str(n) for n in comparison["scenarios"]]
            context["title"] = f"Comparison: {', '.join(names[1:])} against {names[0]}"
    if (folder / "policies.json").exists():
        try:
            context["policies"] = _policies(read_json(folder / "policies.json"))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UsageError(f"{folder / 'policies.json'} is damaged; run the sweep "
                             "again") from None
    design = None
    if (folder / "design.json").exists():
        design = read_json(folder / "design.json")
        context["design"] = _design(design)
    if (folder / "sensitivity.json").exists():
        try:
            base = None
            if isinstance(design, dict) and design.get("kind") == "sobol":
                base = int(design["points"]) // (len(design["parameters"]) + 2)
            context["sensitivity"] = sensitivity_section(
                read_json(folder / "sensitivity.json"), base)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise UsageError(f"{folder / 'sensitivity.json'} is damaged; run the sweep "
                             "again") from None
    if (folder / "discovery.json").exists():
        from sim.discovery import discovery_html

        try:
            context["discovery"] = Markup(discovery_html(read_json(folder / "discovery.json")))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise UsageError(f"{folder / 'discovery.json'} is damaged; run sim discover "
                             "again") from None
    context["mode"] = _mode(manifest, folder)
    context["score"] = _score(folder)
    shown = {"posterior"} if context["mode"] and context["mode"].get("figure") else set()
    context["chapters"] = _chapters(figures, shown)
    if (folder / "provenance.json").exists():
        context["provenance"] = _provenance(read_json(folder / "provenance.json"))
    path = folder / "report.html"
    atomic_write_bytes(path, render(context).encode())
    return path
