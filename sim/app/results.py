"""The app's third page: a saved results folder, without the command line.

The page lists the folders under the results root that hold results of ``sim run``, ``sim
sweep`` or ``sim compare`` and shows the chosen one's outcome table and figures, drawn in
memory with ``sim.plots`` (the folder is only read: nothing is written into it). The root is
``SIM_APP_RESULTS`` (``sim app --results DIR`` sets it; default ``outputs``); a folder deeper
than the list goes can be typed, and is opened only if its real path (symlinks resolved) lies
inside the root (``inside_root``): a path that escapes is refused with one line. A folder is
untrusted input: it is read with ``sim.api.open_results`` (JSON and Parquet, YAML read
safely), and a folder that cannot be read is reported on the page.

What a folder shows: a run's outcome probabilities with their intervals; a comparison's
probabilities and each scenario's paired difference from the first with the difference's 95%
interval (as ``sim compare`` computed them); a sweep's outcome range over its design points,
its figures and, if ``sim discover`` ran on it, PRIM's chosen box: its limits per input and
its coverage, density and mass, beside the trade-off curve it was chosen from.
"""

from __future__ import annotations

import os
from pathlib import Path

import solara

from sim.app import tables
from sim.errors import SimError
from sim.execution.outdir import read_json
from sim.safety import is_inside

#: Folders searched at most this deep under the results root, and at most this many listed.
MAX_DEPTH, MAX_FOLDERS = 3, 200
DEFAULT_ROOT = "outputs"


def results_root() -> Path:
    """The folder the page may open results in, symlinks resolved.

    ``SIM_APP_RESULTS`` (``sim app --results DIR`` sets it), default ``outputs``.
    """
    return Path(os.environ.get("SIM_APP_RESULTS") or DEFAULT_ROOT).resolve()


def inside_root(text: str, root: Path) -> tuple[str | None, str | None]:
    """``(folder, None)`` for a typed folder inside ``root``, or ``(None, one-line problem)``.

    A relative path is taken under ``root``. The folder must exist, lie inside ``root`` once
    every symlink is resolved, and hold results of run, sweep or compare. The text comes from
    the browser (a websocket client can send anything): it is never raised on, and it is
    echoed in the problem only as one bounded line.
    """
    from sim.api import RESULT_MARKERS

    text = text.strip() if isinstance(text, str) else ""
    if not text:
        return None, "type a folder under the results root"
    shown = _one_line(text)
    try:
        path = Path(text).expanduser()
        path = path if path.is_absolute() else root / path
        if not is_inside(path, root):
            if not path.exists() and is_inside(path.parent, root):
                return None, f"{shown}: no such folder under {root}"
            return None, (f"{shown} is outside the results root {root}: not opened (start the "
                          "app with 'sim app --results DIR' to open results elsewhere)")
        if not path.is_dir() or not any((path / m).is_file() for m in RESULT_MARKERS):
            return None, f"{shown}: no results of sim run, sweep or compare in it"
        return str(path.resolve()), None
    except (OSError, ValueError, RuntimeError) as exc:  # a name too long, a symlink loop
        return None, f"{shown}: cannot open it ({type(exc).__name__})"


def _one_line(text: str, limit: int = 120) -> str:
    """``text`` as one line of at most ``limit`` characters (control characters escaped)."""
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


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
    """``(title, Figure)`` for a results folder, drawn in memory with ``sim.plots``.

    PRIM's trade-off curve is not among them: the page shows it beside the box's limits.
    """
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
    return figures


def discovery_parts(results) -> tuple[str, str, str, object] | None:
    """PRIM's chosen box of a sweep, as ``sim discover`` found it (``discovery.json``).

    Returns:
        ``(limits table html, coverage/density/mass table html, notes, trade-off Figure)``,
        ``notes`` being lines on the box's rule on its significant limits and the inputs it
        leaves at their swept range; None if the folder has no discovery with a box. The box
        is read, not recomputed.
    """
    found = results.discovery if results.kind == "sweep" else None
    if not found or "prim" not in found:
        return None
    from sim.discovery import box_rule, tradeoff_figure

    notes = [f"On its significant limits only: {box_rule(found['prim'])}"]
    if found["prim"].get("unrestricted"):
        notes.append("Left at their swept range: "
                     + ", ".join(str(n) for n in found["prim"]["unrestricted"]))
    return (tables.prim_table(found), tables.prim_measures_table(found), notes,
            tradeoff_figure(found))


def _outcome_table(results) -> str:
    """The outcome table as escaped HTML (per outcome, per scenario, or per sweep point)."""
    table = results.outcomes
    if results.kind == "sweep":
        flags = {c: table[c].to_numpy() for c in table.columns if c.startswith("outcome.")
                 and not c.endswith((".low", ".high"))}
        return tables.html_table(tables.SWEEP_HEADERS, tables.sweep_rows(flags),
                                 numeric=tables.SWEEP_NUMERIC,
                                 caption=f"{len(table)} design points")
    if results.kind == "compare":
        return tables.comparison_table(table.to_dict("records"))
    runs = int(table["runs"].iloc[0]) if len(table) else 0
    return tables.outcome_table(table.to_dict("records"), f"{runs} runs")


def _load(folder: str):
    """``(results, figures, table html, discovery, problem)`` for a folder.

    On failure, everything is empty but the problem (one line).
    """
    from sim.api import open_results

    try:
        results = open_results(folder)
        return (results, folder_figures(results), _outcome_table(results),
                discovery_parts(results), None)
    except SimError as exc:
        return None, [], "", None, str(exc)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a damaged or foreign folder
        return None, [], "", None, (f"{folder}: cannot read these results "
                                    f"({type(exc).__name__}: {exc})")


def _figure(fig) -> None:
    import matplotlib.pyplot as plt

    with solara.Div(classes=["sim-figure-box"]):
        solara.FigureMatplotlib(fig, format="png")
    plt.close(fig)


@solara.component
def ResultsView(model):
    """A saved results folder: pick one (or type one under the root); its tables, figures."""
    root = solara.use_memo(results_root, [])
    refresh = solara.use_reactive(0)
    folders = solara.use_memo(lambda: results_folders(root), [refresh.value])
    chosen = solara.use_reactive(folders[0] if folders else None)
    typed = solara.use_reactive("")
    refused = solara.use_reactive("")
    results, figures, table, found, problem = solara.use_memo(
        lambda: _load(chosen.value) if chosen.value else (None, [], "", None, None),
        [chosen.value])

    def pick(new) -> None:
        # only an offered folder is opened: a client can send any value
        if new in folders or new == chosen.value:
            refused.set("")
            chosen.set(new)

    def open_typed(text: str | None = None) -> None:
        text = typed.value if text is None else text
        typed.set(text)
        folder, why = inside_root(text, root)
        refused.set(why or "")
        if folder is not None:
            chosen.set(folder)

    shown = folders if chosen.value in folders or chosen.value is None else [
        chosen.value, *folders]
    with solara.Column(classes=["results-view"]) as main:
        solara.HTML(tag="h4", unsafe_innerHTML="Saved results (run, sweep or compare)")
        solara.Text(f"Results root: {root} (sim app --results DIR opens another; nothing "
                    "outside the root is opened)")
        with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
            solara.Select("Results folder", value=chosen.value, values=shown, on_value=pick)
            solara.Button("Look again", on_click=lambda: refresh.set(refresh.value + 1))
        with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
            solara.InputText("Or type a folder under the results root", value=typed.value,
                             on_value=open_typed, continuous_update=False)
            solara.Button("Open", on_click=lambda: open_typed())
        if refused.value:
            solara.Error(refused.value, classes=["results-refused"])
        if not folders:
            solara.Info(f"No results under {root}/: run 'sim run', 'sim sweep' or "
                        "'sim compare' first.")
        if problem:
            solara.Error(problem)
        if results is not None:
            solara.Text(f"{results.kind} results in {results.folder}")
            solara.HTML(tag="table", classes=["results-table", "sim-table"],
                        unsafe_innerHTML=table)
            if results.kind == "compare":
                solara.Text("Differences are from the first scenario, in percentage points, "
                            "with paired 95% intervals (common random numbers).")
            if found is not None:
                limits, measures, notes, tradeoff = found
                solara.HTML(tag="h4", unsafe_innerHTML="Scenario discovery (PRIM)")
                with solara.Row(gap="32px", style={"flex-wrap": "wrap",
                                                   "align-items": "flex-start"}):
                    with solara.Column(classes=["prim-box"]):
                        solara.HTML(tag="table", classes=["prim-table", "sim-table"],
                                    unsafe_innerHTML=limits)
                        solara.HTML(tag="table", classes=["prim-measures", "sim-table"],
                                    unsafe_innerHTML=measures)
                        for line in notes:
                            solara.Text(line)
                    _figure(tradeoff)
            with solara.Div(classes=["sim-figures"]):
                for title, fig in figures:
                    with solara.Column(gap="2px"):
                        solara.Text(title)
                        _figure(fig)
    return main
