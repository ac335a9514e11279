"""Mesa's SolaraViz as this app lays it out.

Inputs that show their value and range, playback controls that say what they do, and charts
that fill their cells.

Mesa 3.5.1's ``SolaraViz`` draws each slider with its label on the same line (a long label
squeezes the track to a stub), shows neither the value nor the range, and puts three playback
controls in its sidebar without a word on what they do: Play Interval, Render Interval and Use
Threads. None of that can be changed through its arguments, so ``Explorer`` is its layout
rebuilt from Mesa's own parts (``ModelController`` for Reset, ▶ and Step, whose model
parameters it fills exactly as Mesa's ``ModelCreator`` does, and the tabbed grid of views),
with these differences:

- every slider (``Slider``) has its label above it, wrapping, and its current value and its
  range in a fixed-width column beside the track, so the track is as wide for a long label as
  for a short one;
- Play interval and Render interval are sliders of the same kind, each with a one-line
  explanation under it;
- Use Threads is left out (it stays off, Mesa's default): it steps the model in one thread and
  redraws in another, so that a fast model is not held back by its charts, at the cost of
  skipped charts; this model draws every day it steps, which is what the page is for.

The page's CSS (``CSS``) also makes each chart's image fill its grid cell (Mesa's grid cells are
sized by the layout, the images by their own pixel size).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import solara

#: Playback: pause between days while playing (ms), and days per Step (and per redraw).
PLAY_INTERVAL = {"value": 100, "min": 0, "max": 1000, "step": 50}
RENDER_INTERVAL = {"value": 1, "min": 1, "max": 30, "step": 1}
PLAY_NOTE = "Pause between days while ▶ plays: larger is slower."
RENDER_NOTE = "Days each Step advances; while ▶ plays, the charts are redrawn every this many days."

#: Width of the value-and-range column beside every slider (it does not depend on the label).
READOUT_WIDTH = "5.5em"

CSS = f"""
.sim-slider {{ width: 100%; }}
.sim-slider-label {{ white-space: normal; overflow-wrap: anywhere; line-height: 1.25;
  font-size: 0.9rem; opacity: 0.8; margin-top: 6px; }}
.sim-slider-row {{ display: flex; flex-wrap: nowrap; align-items: center; gap: 8px; }}
.sim-slider-track {{ flex: 1 1 auto; min-width: 0; }}
.sim-slider-track .v-label {{ display: none; }}
.sim-slider-readout {{ flex: 0 0 {READOUT_WIDTH}; width: {READOUT_WIDTH}; text-align: right;
  line-height: 1.2; }}
.sim-slider-value {{ font-weight: 600; font-variant-numeric: tabular-nums; }}
.sim-slider-range {{ font-size: 0.75rem; opacity: 0.7; white-space: nowrap; }}
.sim-note {{ font-size: 0.75rem; opacity: 0.7; line-height: 1.2;
  margin-bottom: 4px; }}
.vue-grid-item img {{ width: 100%; height: 100%; object-fit: contain; display: block; }}
.sim-figure-box {{ flex: 1 1 460px; min-width: 0; max-width: 820px; }}
.sim-figure-box img {{ width: 100%; height: auto; display: block; }}
.sim-figures {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr));
  gap: 16px; width: 100%; }}
.sim-figures .sim-figure-box {{ max-width: none; }}
table.sim-table {{ border-collapse: collapse; margin: 6px 0; width: auto;
  align-self: flex-start; }}
table.sim-table th, table.sim-table td {{ padding: 3px 20px 3px 0; text-align: left;
  vertical-align: top; }}
table.sim-table th {{ border-bottom: 1px solid currentColor; font-weight: 600; }}
table.sim-table td.num, table.sim-table th.num {{ text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }}
table.sim-table caption {{ caption-side: top; text-align: left; font-weight: 600;
  padding-bottom: 4px; }}
"""


def decimals(step: float) -> int:
    """Decimal places that show every value a slider of this step can take (0.05 -> 2)."""
    if step <= 0 or not math.isfinite(step):
        return 2
    places = 0
    while places < 6 and abs(round(step, places) - step) > 1e-9 * max(1.0, abs(step)):
        places += 1
    return places


def readout(value: float, low: float, high: float, step: float) -> tuple[str, str]:
    """What stands beside a slider: its value and its range, ``("0.55", "0 – 1")``."""
    places = decimals(step)
    return f"{value:.{places}f}", f"{low:.{places}f} – {high:.{places}f}"


@solara.component
def Slider(label: str, value: float, low: float, high: float, step: float,
           on_value: Callable[[float], None], note: str = "", integer: bool = False):
    """A slider with its label above it and its value and range beside it.

    Args:
        label: Shown above the track (it wraps); also the slider's own label, hidden by the
            CSS, which names it for screen readers (``aria-label``) and tests.
        value: Starting value.
        low: Smallest value.
        high: Largest value.
        step: Step between values.
        on_value: Called with each new value.
        note: One line of explanation under it ("" for none).
        integer: An integer slider (values passed on as ``int``).
    """
    current = solara.use_reactive(value)

    def change(new) -> None:
        new = int(new) if integer else float(new)
        current.set(new)
        on_value(new)

    shown, span = readout(current.value, low, high, step)
    with solara.Column(gap="0px", classes=["sim-slider"]) as main:
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(label),
                    classes=["sim-slider-label"])
        with solara.Div(classes=["sim-slider-row"]):
            with solara.Div(classes=["sim-slider-track"]):
                solara.v.Slider(v_model=current.value, on_v_model=change, label=label,
                                min=low, max=high, step=step, hide_details=True,
                                thumb_label=True, class_="sim-slider-input")
            solara.HTML(tag="div", classes=["sim-slider-readout"], unsafe_innerHTML=(
                f"<div class='sim-slider-value'>{html.escape(shown)}</div>"
                f"<div class='sim-slider-range'>{html.escape(span)}</div>"))
        if note:
            solara.HTML(tag="div", unsafe_innerHTML=html.escape(note), classes=["sim-note"])
    return main


@solara.component
def ParameterInputs(params: dict, model_parameters: solara.Reactive[dict]):
    """The model's inputs, filling ``model_parameters`` as Mesa's ``ModelCreator`` does.

    ``params`` is SolaraViz's ``model_params``: a dict with a ``type`` is an input, anything
    else is passed to the model as it is. Reset (Mesa's ``ModelController``) builds the model
    from ``model_parameters``.
    """
    from mesa.visualization.solara_viz import split_model_params

    inputs, fixed = split_model_params(params)
    solara.use_effect(lambda: model_parameters.set(
        {**fixed, **{name: options.get("value") for name, options in inputs.items()}}), [])

    def change(name: str, value) -> None:
        model_parameters.value = {**model_parameters.value, name: value}

    for name, options in inputs.items():
        label = options.get("label", name)
        kind = options.get("type")

        def on_value(value, name=name) -> None:
            change(name, value)

        if kind in ("SliderFloat", "SliderInt"):
            Slider(label, options["value"], options["min"], options["max"],
                   options.get("step", 1 if kind == "SliderInt" else 0.01), on_value,
                   integer=kind == "SliderInt")
        elif kind == "Select":
            solara.Select(label, value=options.get("value"), on_value=on_value,
                          values=options.get("values"))
        elif kind == "InputText":
            solara.InputText(label=label, value=options.get("value"), on_value=on_value)
        else:
            raise ValueError(f"{label}: input type {kind!r} is not supported")


@solara.component
def Explorer(model, components: list, model_params: dict, name: str):
    """Mesa's SolaraViz with this app's sidebar (see the module docstring).

    Args:
        model: The model the page starts with (Reset replaces it).
        components: ``(view, page index)`` pairs, as SolaraViz takes them.
        model_params: SolaraViz's ``model_params``.
        name: The title in the app bar.
    """
    from mesa.visualization.solara_viz import ModelController

    reactive_model = solara.use_reactive(model)
    parameters = solara.use_reactive({})
    play_interval = solara.use_reactive(PLAY_INTERVAL["value"])
    render_interval = solara.use_reactive(RENDER_INTERVAL["value"])
    use_threads = solara.use_reactive(False)
    solara.Style(CSS)
    with solara.AppBar():
        solara.AppBarTitle(name)
        solara.lab.ThemeToggle()
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls"):
            ModelController(reactive_model, model_parameters=parameters,
                            play_interval=play_interval, render_interval=render_interval,
                            use_threads=use_threads)
            Slider("Play interval (ms)", play_interval.value, PLAY_INTERVAL["min"],
                   PLAY_INTERVAL["max"], PLAY_INTERVAL["step"], play_interval.set,
                   note=PLAY_NOTE, integer=True)
            Slider("Render interval (days)", render_interval.value, RENDER_INTERVAL["min"],
                   RENDER_INTERVAL["max"], RENDER_INTERVAL["step"], render_interval.set,
                   note=RENDER_NOTE, integer=True)
        with solara.Card("Model parameters"):
            solara.Text("Inputs apply when you press Reset.")
            ParameterInputs(model_params, parameters)
    NamedPages(components, reactive_model.value)


# ----------------------------------------------------------------------------- pages and grid

#: Tab labels by page index.
PAGE_NAMES = {0: "One run", 1: "Ensemble", 2: "Saved results"}
#: A view's cell when its entry gives none: half the width, 10 rows of 30 px (Mesa's).
DEFAULT_CELL = (6, 10)
COLUMNS = 12


def grid_layout(cells: list[tuple[int, int]]) -> list[dict]:
    """Cells ``(width, height)`` in grid units placed left to right, row by row (12 columns)."""
    layout, x, y, row_height = [], 0, 0, 0
    for i, (w, h) in enumerate(cells):
        w = max(1, min(COLUMNS, w))
        if x + w > COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        layout.append({"i": i, "x": x, "y": y, "w": w, "h": h, "moved": False})
        x, row_height = x + w, max(row_height, h)
    return layout


@solara.component
def NamedPages(components: list, model):
    """Tabs named by ``PAGE_NAMES``, each a page of views.

    ``components`` are ``(view, page)`` or ``(view, page, (width, height))`` entries. A page
    of several views is Mesa's draggable, resizable grid, its cells placed by ``grid_layout``
    (Mesa 3.5.1's ``ComponentsView`` labels its tabs "Page 0", "Page 1", ... with no way to
    name them, and gives every view the same cell); a page of one view is that view alone,
    as tall as its content.
    """
    from mesa.visualization.solara_viz import _wrap_component

    current, set_current = solara.use_state(0)
    layouts, set_layouts = solara.use_state({})
    pages: dict[int, list] = {}
    cells: dict[int, list[tuple[int, int]]] = {}
    for entry in components:
        view, index, *cell = entry if isinstance(entry, tuple) else (entry, 0)
        pages.setdefault(index, []).append(_wrap_component(view))
        cells.setdefault(index, []).append(tuple(cell[0]) if cell else DEFAULT_CELL)
    order = sorted(pages)

    def sync_layouts():
        new = {i: grid_layout(cells[i]) for i in pages if i not in layouts}
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
                if i != current:
                    continue
                if len(pages[index]) == 1:
                    pages[index][0](model)
                elif layouts.get(index):

                    def on_layout(new, page=index):
                        set_layouts(lambda old: {**old, page: new})

                    solara.GridDraggable(items=[c(model) for c in pages[index]],
                                         grid_layout=layouts[index], resizable=True,
                                         draggable=True, on_grid_layout=on_layout)
