"""The app's named pages, and its third page: a saved results folder, without the command line.

Named pages: Mesa 3.5.1's SolaraViz labels its tabs "Page 0", "Page 1", ... (its
``ComponentsView`` writes ``f"Page {index}"``, with no way to pass a name). ``NamedPages``
is that component with the labels of ``PAGE_NAMES``, and ``use_named_pages`` puts it in place
of Mesa's (SolaraViz looks the name up in its module when it renders). Mesa is pinned
(pyproject), and ``tests/test_app.py`` checks the tab names, so a Mesa that changes this is
noticed.

The results page lists the folders under ``SIM_APP_RESULTS`` (default ``outputs``) that hold
results of ``sim run``, ``sim sweep`` or ``sim compare`` and shows the chosen one's outcome
table and figures, drawn in memory with ``sim.plots`` (the folder is only read: nothing is
written into it). A folder is untrusted input: it is read with ``sim.api.open_results`` (JSON
and Parquet, YAML read safely), and a folder that cannot be read is reported on the page.
"""

from __future__ import annotations

import collections
import html
import os
from pathlib import Path

import numpy as np
import solara

from sim.errors import SimError
from sim.execution.outdir import read_json

#: Tab labels by SolaraViz page index.
PAGE_NAMES = {0: "One run", 1: "Ensemble", 2: "Saved results"}
#: Folders searched at most this deep under the results root, and at most this many listed.
MAX_DEPTH, MAX_FOLDERS = 3, 200


@solara.component
def NamedPages(components, model):
    """Mesa's ``ComponentsView`` (one draggable grid of views per page), with named tabs."""
    from mesa.visualization.solara_viz import _wrap_component, make_initial_grid_layout

    current, set_current = solara.use_state(0)
    layouts, set_layouts = solara.use_state({})
    pages = collections.defaultdict(list)
    for item in components:
        component, index = item if isinstance(item, tuple) else (item, 0)
        pages[index].append(_wrap_component(component))
    order = sorted(pages)

    def sync_layouts():
        new = {i: make_initial_grid_layout(len(pages[i])) for i in pages if i not in layouts}
        kept = {i: v for i, v in layouts.items() if i in pages}
        if new or len(kept) != len(layouts):
            set_layouts({**kept, **new})

    solara.use_effect(sync_layouts, list(pages))
    if not components:
        return
    with solara.v.Tabs(v_model=current, on_v_model=set_current):
        for index in order:
            solara.v.Tab(children=[PAGE_NAMES.get(index, f"Page {index}")])
    with solara.v.Window(v_model=current):
        for i, index in enumerate(order):
            with solara.v.WindowItem():
                if i == current and layouts.get(index):

                    def on_layout(new, page=index):
                        set_layouts(lambda old: {**old, page: new})

                    solara.GridDraggable(items=[c(model) for c in pages[index]],
                                         grid_layout=layouts[index], resizable=True,
                                         draggable=True, on_grid_layout=on_layout)


def use_named_pages() -> None:
    """Make SolaraViz label its tabs with ``PAGE_NAMES`` (see the module's docstring)."""
    from mesa.visualization import solara_viz

    solara_viz.ComponentsView = NamedPages


# ----------------------------------------------------------------------------- saved results


def results_folders(root: Path) -> list[str]:
    """Folders under ``root`` (``root`` included) holding results of run, sweep or compare."""
    from sim.api import RESULT_MARKERS

    found = []
    if not root.is_dir():
        return found
    todo = [(root, 0)]
    while todo and len(found) < MAX_FOLDERS:
        folder, depth = todo.pop(0)
        if any((folder / m).is_file() for m in RESULT_MARKERS):
            found.append(str(folder))
        if depth < MAX_DEPTH:
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir()
                                  and not p.is_symlink() and p.name not in ("parts", "figures"))
            except OSError:
                continue
            todo += [(p, depth + 1) for p in children]
    return found


def folder_figures(results) -> list[tuple[str, object]]:
    """``(title, Figure)`` for a results folder, drawn in memory with ``sim.plots``."""
    from sim import plots

    folder = results.folder
    figures = []
    title = plots._label(results.scenario.get("name") or results.manifest.get(
        "scenario_name") or folder.name)  # a received name: one bounded line
    if results.kind == "run":
        summary = read_json(folder / "summary.json")
        figures.append(("outcomes", plots.outcome_bars(
            summary["outcomes"], f"{title}: outcome probabilities ({summary['runs']} runs)")))
    elif results.kind == "compare":
        figures.append(("comparison", plots.comparison_chart(
            read_json(folder / "comparison.json"))))
    else:
        runs = results.runs
        params = [c.removeprefix("param.") for c in runs.columns if c.startswith("param.")]
        outcomes = [c.removeprefix("outcome.") for c in runs.columns
                    if c.startswith("outcome.") and 0 < runs[c].mean() < 1]
        columns = {c: runs[c].to_numpy() for c in runs.columns}
        for outcome in outcomes[:3]:
            figures.append((f"response of {outcome}",
                            plots.response_curves(columns, outcome, params)))
        if len(params) >= 2 and outcomes:
            figures.append((f"{outcomes[0]} over two parameters",
                            plots.heatmap(columns, outcomes[0], params[0], params[1])))
        if (folder / "sensitivity.json").exists():
            sens = read_json(folder / "sensitivity.json")
            for target in [t for t in sens["results"] if t.startswith("outcome.")][:3]:
                figures.append((f"sensitivity of {target}", plots.sensitivity_bars(sens,
                                                                                   target)))
        found = results.discovery
        if found and "prim" in found:
            from sim.discovery import tradeoff_figure

            figures.append(("scenario discovery (PRIM)", tradeoff_figure(found)))
    return figures


def _outcome_table(results) -> str:
    """The outcome table as escaped HTML (per outcome, per scenario, or per sweep point)."""
    table = results.outcomes
    if results.kind == "sweep":
        flags = [c for c in table.columns if c.startswith("outcome.")
                 and not c.endswith((".low", ".high"))]
        rows = "".join(
            f"<tr><td>{html.escape(c.removeprefix('outcome.'))}</td>"
            f"<td>{table[c].min():.1%}</td><td>{np.median(table[c]):.1%}</td>"
            f"<td>{table[c].max():.1%}</td></tr>" for c in flags)
        return (f"<caption>{len(table)} design points</caption><tr><th>outcome</th>"
                f"<th>min P</th><th>median P</th><th>max P</th></tr>{rows}")
    if results.kind == "compare":
        rows = "".join(
            f"<tr><td>{html.escape(str(r['outcome']))}</td><td>{html.escape(str(r['scenario']))}"
            f"</td><td>{r['probability']:.1%}</td><td>"
            + (f"{100 * r['difference']:+.1f} pts" if _number(r.get("difference")) else "")
            + "</td></tr>"
            for r in table.to_dict("records"))
        return ("<tr><th>outcome</th><th>scenario</th><th>probability</th>"
                f"<th>difference</th></tr>{rows}")
    rows = "".join(
        f"<tr><td>{html.escape(str(r['outcome']))}</td><td>{r['probability']:.1%}</td>"
        f"<td>{r['low']:.1%} – {r['high']:.1%}</td></tr>" for r in table.to_dict("records"))
    runs = int(table["runs"].iloc[0]) if len(table) else 0
    return (f"<caption>{runs} runs</caption><tr><th>outcome</th><th>probability</th>"
            f"<th>95% interval</th></tr>{rows}")


def _number(x) -> bool:
    """Whether x is a number (the reference scenario's difference is missing: NaN)."""
    return isinstance(x, int | float) and x == x


def _load(folder: str):
    """``(results, figures, table html, problem)`` for a folder; a problem instead on failure."""
    from sim.api import open_results

    try:
        results = open_results(folder)
        return results, folder_figures(results), _outcome_table(results), None
    except SimError as exc:
        return None, [], "", str(exc)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a damaged or foreign folder
        return None, [], "", f"{folder}: cannot read these results ({type(exc).__name__}: {exc})"


@solara.component
def ResultsView(model):
    """A saved results folder: pick one, see its outcome table and figures."""
    import matplotlib.pyplot as plt

    root = Path(os.environ.get("SIM_APP_RESULTS", "outputs"))
    refresh = solara.use_reactive(0)
    folders = solara.use_memo(lambda: results_folders(root), [refresh.value])
    chosen = solara.use_reactive(folders[0] if folders else None)
    results, figures, table, problem = solara.use_memo(
        lambda: _load(chosen.value) if chosen.value else (None, [], "", None), [chosen.value])
    with solara.Column(classes=["results-view"]) as main:
        solara.HTML(tag="h4", unsafe_innerHTML="Saved results (run, sweep or compare)")
        with solara.Row():
            # only an offered folder is opened: a client can send any value
            solara.Select("Results folder", value=chosen.value, values=folders,
                          on_value=lambda new: chosen.set(new) if new in folders else None)
            solara.Button("Look again", on_click=lambda: refresh.set(refresh.value + 1))
        if not folders:
            solara.Info(f"No results under {root}/: run 'sim run', 'sim sweep' or "
                        "'sim compare' first.")
        if problem:
            solara.Error(problem)
        if results is not None:
            solara.Text(f"{results.kind} results in {results.folder}")
            solara.HTML(tag="table", classes=["results-table"], unsafe_innerHTML=table)
            for title, fig in figures:
                solara.Text(title)
                solara.FigureMatplotlib(fig, format="png")
                plt.close(fig)
    return main
