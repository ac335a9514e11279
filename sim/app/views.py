"""What the page shows of one replication and of an ensemble: read-only views of a model.

Each view is a function of the model that returns a solara element; Mesa's SolaraViz redraws it
after every step. The figures are plain matplotlib ``Figure`` objects (never pyplot's global
state, which is not safe across the server's threads), drawn in the colours of ``sim.plots``.
"""

from __future__ import annotations

import datetime as dt
import html
import threading

import matplotlib.dates as mdates
import matplotlib.text
import numpy as np
import solara
from matplotlib.figure import Figure

from sim.app.explorer import ExplorerModel, ensemble_outcomes
from sim.app.tables import outcome_table
from sim.plots import OKABE_ITO, draw_network, network_legend, outcome_bars

DEFAULT_ENSEMBLE = 500
MAX_ENSEMBLE = 100_000  # beyond this `sim run`'s worker pool is the better tool
LOG_LINES = 200  # newest entries shown in the event log


def _html(tag: str, text: str, css_class: str = "") -> None:
    """Escaped text in an HTML element (solara.Markdown would load KaTeX from a CDN)."""
    solara.HTML(tag=tag, unsafe_innerHTML=html.escape(text),
                classes=[css_class] if css_class else [])


def _show(fig: Figure):
    """The figure as a page element, every text drawn as written.

    Names come from the scenario: ``$...$`` in one would be parsed as matplotlib math (and a
    broken formula would fail the whole view).
    """
    for text in fig.findobj(matplotlib.text.Text):
        text.set_parse_math(False)
    return solara.FigureMatplotlib(fig, format="png")


#: Size of a chart (inches at ``DPI``): the aspect of its grid cell (half the width, 10 rows),
#: so the image, scaled to the cell by the page's CSS (``sim.app.viz.CSS``), fills it.
CHART_SIZE, DPI = (6.4, 4.8), 100
LEGEND_COLUMNS = 3


def _figure() -> tuple[Figure, object]:
    # fixed margins: constrained layout would cost a third of each redraw, after every step
    fig = Figure(figsize=CHART_SIZE, dpi=DPI)
    return fig, fig.subplots()


def _dates(model: ExplorerModel) -> list[dt.date]:
    start = model.layout.start
    return [start + dt.timedelta(days=d) for d in range(model.day + 1)]


def _style_dates(ax, model: ExplorerModel, left: float = 0.12) -> None:
    """Date axis over the whole horizon, and the legend under the plot.

    Under it, the plot keeps the cell's width (a legend at its side took a third of it).
    """
    start = model.layout.start
    ax.set_xlim(start, start + dt.timedelta(days=model.days))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    handles, labels = ax.get_legend_handles_labels()
    rows = -(-len(labels) // LEGEND_COLUMNS)
    fig = ax.figure
    fig.subplots_adjust(left=left, right=0.97, top=0.92, bottom=0.13 + 0.042 * rows)
    if labels:
        fig.legend(handles, labels, loc="lower center", ncol=LEGEND_COLUMNS, fontsize=7,
                   frameon=False, bbox_to_anchor=(0.5, 0.0))


def _name(model: ExplorerModel, actor_id: str) -> str:
    return model.layout.actor_names[model.layout.actors.index(actor_id)]


def Status(model: ExplorerModel):
    """Day counter, the run being stepped, and any problem with the page's settings."""
    lay = model.layout
    today = lay.start + dt.timedelta(days=model.day)
    with solara.Column(gap="4px") as main:
        _html("h3", f"Day {model.day} of {model.days} · {today:%d %B %Y}", "day-counter")
        solara.Text(f"{model.loaded.spec.name} — run {model.run_index}, seed {model.seed}"
                    + (" — finished" if not model.running else ""))
        solara.Text("The Ensemble tab runs an ensemble of these settings.")
        if model.overrides:
            solara.Text("Changed from the scenario file: " + "; ".join(model.overrides))
        for problem in model.problems:
            solara.Error(f"Not applied: {problem}")
        if model.problems:
            solara.Info("Showing the scenario as written; fix the setting and press Reset.")
    return main


def EscalationView(model: ExplorerModel):
    """Escalation rung of each dyad over time, on the ladder's own rung names."""
    lay = model.layout
    fig, ax = _figure()
    dates = _dates(model)
    dyads = lay.dyads()
    histories = [model.history(f"rung.{lay.dyad_name(i, j)}") for i, j in dyads]
    shown = [(d, h) for d, h in zip(dyads, histories, strict=True) if h.max() > 0] or list(
        zip(dyads, histories, strict=True))
    offsets = np.linspace(-0.12, 0.12, len(shown)) if len(shown) > 1 else [0.0]
    for k, ((i, j), history) in enumerate(shown):
        ax.step(dates, history + offsets[k], where="post", lw=1.6,
                color=OKABE_ITO[k % len(OKABE_ITO)],
                label=f"{lay.actor_names[i]} – {lay.actor_names[j]}")
    ax.set_yticks(range(len(lay.rung_names)), lay.rung_names, fontsize=7)
    ax.set_ylim(-0.4, len(lay.rung_names) - 0.6)
    ax.set_title("Escalation rung of each dyad", fontsize=10)
    _style_dates(ax, model, left=0.17)
    return _show(fig)


def LossesView(model: ExplorerModel):
    """Cumulative military losses of each actor."""
    fig, ax = _figure()
    dates = _dates(model)
    for k, actor in enumerate(model.layout.actors):
        ax.plot(dates, model.history(f"losses.{actor}"), lw=1.6,
                color=OKABE_ITO[k % len(OKABE_ITO)], label=_name(model, actor))
    ax.set_ylabel("soldiers lost (cumulative)", fontsize=8)
    ax.set_title("Losses per actor", fontsize=10)
    _style_dates(ax, model)
    return _show(fig)


def PeopleView(model: ExplorerModel):
    """People at each node of the refugee network, stacked (the total is conserved)."""
    fig, ax = _figure()
    nodes = model.layout.nodes
    stacks = np.vstack([model.history(f"people.{node}") for node in nodes]) / 1e6
    ax.stackplot(_dates(model), stacks, labels=list(nodes),
                 colors=[OKABE_ITO[k % len(OKABE_ITO)] for k in range(len(nodes))], alpha=0.85)
    ax.set_ylabel("people (millions)", fontsize=8)
    ax.set_title("People per refugee node", fontsize=10)
    _style_dates(ax, model)
    return _show(fig)


def ControlView(model: ExplorerModel):
    """Share of each objective held by each actor that holds any of it."""
    lay = model.layout
    fig, ax = _figure()
    dates = _dates(model)
    k = 0
    for objective in lay.objectives:
        for actor in lay.actors:
            history = model.history(f"control.{objective}.{actor}")
            if history.max() <= 0:
                continue
            ax.plot(dates, history, lw=1.6, color=OKABE_ITO[k % len(OKABE_ITO)],
                    label=f"{objective}: {_name(model, actor)}")
            k += 1
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("share held", fontsize=8)
    ax.set_title("Control of each objective", fontsize=10)
    _style_dates(ax, model)
    return _show(fig)


def AllianceView(model: ExplorerModel):
    """The alliance network today: signed affinity edges, width by strength."""
    fig, ax = _figure()
    fig.subplots_adjust(left=0.02, right=0.98, top=0.92, bottom=0.1)
    draw_network(ax, list(model.layout.actor_names), model.state.affinity[0],
                 f"Affinity on day {model.day}")
    fig.legend(handles=network_legend(), loc="lower center", ncol=2, fontsize=7,
               frameon=False)
    return _show(fig)


def EventLog(model: ExplorerModel):
    """Each day's chosen actions, deals, breakdowns, realignments and asset decisions."""
    lines = [text for _, text in model.log][-LOG_LINES:][::-1]
    with solara.Card("Event log (newest first)", style={"max-height": "380px",
                                                         "overflow-y": "auto"}) as card:
        if not lines:
            solara.Text("Nothing has happened yet: press Step or ▶.")
        solara.HTML(tag="ul", unsafe_innerHTML="".join(
            f"<li>{html.escape(line)}</li>" for line in lines))
    return card


@solara.component
def EnsembleView(model: ExplorerModel):
    """Outcome probabilities of N replications of the current settings, run in a thread.

    The ensemble runs off the page's event loop (``solara.lab.use_task`` in a thread), in
    batches, so the page keeps answering and shows progress; a new model (Reset, another
    scenario) stops a run in progress between batches.
    """
    runs = solara.use_reactive(DEFAULT_ENSEMBLE)
    done = solara.use_reactive(0)
    request = solara.use_reactive(0)
    cancel = solara.use_memo(threading.Event, [model])
    # a new model (Reset, another scenario) or leaving the page stops a run in progress
    solara.use_effect(lambda: cancel.set, [model])

    def work():
        if request.value == 0:
            return None
        done.set(0)
        return ensemble_outcomes(model.loaded, model.seed, int(runs.value),
                                 progress=done.set, cancelled=cancel.is_set)

    result = solara.lab.use_task(work, dependencies=[request.value, model],
                                 prefer_threaded=True)
    valid = 1 <= runs.value <= MAX_ENSEMBLE
    with solara.Column() as main:
        _html("h4", f"Ensemble of the current settings (seed {model.seed})")
        solara.Text("Runs 0..N-1 of these settings: the same rows 'sim run' would give.")
        with solara.Row():
            solara.InputInt("Replications N", value=runs, continuous_update=False)
            solara.Button("Run ensemble", color="primary",
                          on_click=lambda: request.set(request.value + 1),
                          disabled=result.pending or not valid)
        if not valid:
            solara.Error(f"N must be between 1 and {MAX_ENSEMBLE:,} (use `sim run` for more).")
        if result.pending:
            solara.ProgressLinear(value=100 * done.value / max(1, runs.value))
            solara.Text(f"{done.value} of {runs.value} runs done…")
        elif result.error:
            solara.Error(f"The ensemble failed: {result.exception}")
        elif result.value is not None:
            _ensemble_table(result.value)
    return main


def _ensemble_table(result) -> None:
    """Probability and its interval in separate columns, beside the chart of the same."""
    with solara.Row(gap="32px", style={"flex-wrap": "wrap", "align-items": "flex-start"}):
        solara.HTML(tag="table", classes=["ensemble-table", "sim-table"],
                    unsafe_innerHTML=outcome_table(result.outcomes, f"{result.runs} runs"))
        fig = outcome_bars(result.outcomes, f"{result.runs} runs, seed {result.seed}")
        with solara.Div(classes=["sim-figure-box"]):
            _show(fig)
