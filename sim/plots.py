"""Figures of outcome distributions, from saved outputs only (never re-running the model).

Every plotting function takes tables (dicts of numpy arrays, parsed JSON) and returns a
matplotlib ``Figure`` (the newer ones, ``level_chart`` and ``event_day_ecdf``, return
``(fig, axes)``); ``plot_folder`` finds what a results folder holds (an ensemble, a sweep or a
comparison) and saves every figure that applies as PNG and SVG. Figures are plain ``Figure``
objects, not pyplot's, so the app can draw them in its server's threads. Colours are the
Okabe-Ito palette, distinguishable with the common forms of colour blindness; levels (rungs)
use a sequential palette light to dark, which reads in grey as well.

What the figures must not hide (issue #16): an ensemble that splits. Rungs, deals and gates
are levels, so they are drawn as the share of runs at each level per day (``levels.parquet``),
never as quantile bands, which hid a 17% tail at war; continuous series get a fan, a few
sample paths, and a note when their final values are bimodal (``bimodality``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

from sim.analysis import wilson_interval
from sim.execution.outdir import read_json, read_results_yaml
from sim.execution.storage import (
    figures_folder,
    read_runs,
    read_table,
    save_figure,
    table_columns,
)

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000")
POSITIVE, NEGATIVE = "#0072B2", "#D55E00"
plt.rcParams.update({"axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
                     "figure.dpi": 100, "savefig.dpi": 120, "axes.spines.top": False,
                     "axes.spines.right": False, "axes.titleweight": "bold"})


def _read(path: Path) -> dict[str, np.ndarray]:
    """A results folder's table as columns, sizes checked before decoding (``read_table``)."""
    return read_runs(path)


# ----------------------------------------------------------------------------- ensembles


#: Most rows (bars, parameters, scenarios) one figure draws, and most characters of a label.
#: Sizes come from a results folder, which may be received: a summary listing thousands of
#: outcomes once made a 256-megapixel figure after minutes. Beyond these, the figure shows
#: the first (most likely, most influential) and says how many there are.
MAX_ROWS, MAX_LABEL, MAX_PANELS, MAX_NETWORK = 60, 60, 8, 40


def _label(text: object) -> str:
    text = str(text)
    return text if len(text) <= MAX_LABEL else f"{text[:MAX_LABEL - 3]}..."


def _of(shown: int, total: int) -> str:
    """`` (the first 60 of 5000)`` when a figure draws fewer rows than there are."""
    return "" if shown == total else f" (the first {shown} of {total})"


def outcome_bars(outcomes: list[dict], title: str) -> Figure:
    """Horizontal bars of outcome probabilities with their 95% intervals.

    At most ``MAX_ROWS`` bars: the most likely outcomes, and the title says how many there are.
    """
    if len(outcomes) > MAX_ROWS:
        top = sorted(outcomes, key=lambda r: -float(r["probability"]))[:MAX_ROWS]
        title = f"{_label(title)}{_of(MAX_ROWS, len(outcomes))}"
        outcomes = top
    rows = sorted(outcomes, key=lambda r: r["probability"])
    # a plain Figure, not pyplot's: the app draws it in the server's threads
    fig = Figure(figsize=(8, 0.45 * len(rows) + 1.6))
    ax = fig.subplots()
    y = np.arange(len(rows))
    p = np.array([r["probability"] for r in rows])
    err = np.clip(np.array([[r["probability"] - r["low"], r["high"] - r["probability"]]
                           for r in rows]).T, 0.0, None)  # rounding can make 0 negative
    ax.barh(y, 100 * p, color=OKABE_ITO[0], alpha=0.85)
    ax.errorbar(100 * p, y, xerr=100 * err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_yticks(y, [_label(r["outcome"]).replace("_", " ") for r in rows])
    ax.set_xlim(0, 100)
    ax.set_xlabel("probability (% of runs), with 95% Wilson interval")
    ax.set_title(title)
    for yi, row in zip(y, rows, strict=True):
        x, ha, colour = _bar_label_position(row)
        ax.text(x, yi, f"{row['probability']:.1%}", va="center", ha=ha, fontsize=8,
                color=colour)
    fig.tight_layout()
    return fig


def _bar_label_position(row: dict) -> tuple[float, str, str]:
    """Where a bar's value label goes so it never sits on the interval's whisker.

    Right of the upper whisker's cap when there is room; otherwise inside the bar, left of
    the lower whisker (in white on the bar's colour); the whisker spans ``low..high``.
    """
    low, high = 100 * row["low"], 100 * row["high"]
    if high + 11 <= 100:
        return high + 1.5, "left", "black"
    return low - 1.5, "right", "white"


def fan_chart(traj: dict[str, np.ndarray], series: list[str], title: str, ylabel: str,
              rung_names: list[str] | None = None, *, paths: dict[str, np.ndarray] | None = None,
              finals: dict[str, np.ndarray] | None = None,
              ylim: tuple[float, float] | None = None, log_split: bool = False) -> Figure:
    """Median and 50%/90% bands over calendar dates, one panel per series.

    Args:
        traj: ``trajectories.parquet`` as columns.
        series: Series to draw, one panel each.
        title: Figure title.
        ylabel: Label of every panel's y axis.
        rung_names: Ladder names for rung series (prefer ``level_chart`` for those).
        paths: ``paths.parquet`` as columns: up to ``SAMPLE_PATHS`` runs are drawn as thin
            lines, coloured by the mode their last value falls in when the series splits.
        finals: Each series' final value in every run (from ``runs.parquet``): tested with
            ``bimodality``; a split is written in the panel with the share in each mode.
        ylim: One y range for every panel (affinities: -1..1), so that panels compare; by
            default each panel has its own, and the y label says so.
        log_split: Split counts (losses, people) on a log scale (``bimodality``).
    """
    n = len(series)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(4.6 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True,
                        sharey=ylim is not None)
    for ax, name in zip(axes.flat, series, strict=False):
        mask = traj["series"] == name
        dates = _dates(traj["date"][mask])
        ax.fill_between(dates, traj["q05"][mask], traj["q95"][mask], color=OKABE_ITO[5],
                        alpha=0.35, lw=0, label="90% of runs")
        ax.fill_between(dates, traj["q25"][mask], traj["q75"][mask], color=OKABE_ITO[0],
                        alpha=0.45, lw=0, label="50% of runs")
        ax.plot(dates, traj["q50"][mask], color="black", lw=1.2, label="median")
        split = (bimodality(finals[name], log=log_split,
                            min_gap=SPLIT_GAP.get(name.split(".", 1)[0], 0.0))
                 if finals and name in finals else None)
        if paths is not None and name in paths:
            _sample_paths(ax, paths, name, split)
        label = name.split(".", 1)[1].replace("~", " – ")
        if split and split["bimodal"]:
            label += f"  (splits {split['low_share']:.0%} / {split['high_share']:.0%})"
            ax.text(0.02, 0.97, _split_note(split), transform=ax.transAxes, fontsize=7,
                    va="top", ha="left", color=NEGATIVE,
                    bbox={"fc": "white", "ec": NEGATIVE, "alpha": 0.85, "pad": 2})
        ax.set_title(label, fontsize=10)
        ax.set_ylabel(ylabel)
        if rung_names:
            ax.set_yticks(range(len(rung_names)), rung_names, fontsize=7)
            ax.set_ylim(-0.3, len(rung_names) - 0.7)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[1:n]:
        if any(h.get_label().startswith("sample runs ending") for h in ax.get_lines()):
            ax.legend(handles=[h for h in ax.get_lines()
                               if h.get_label().startswith("sample runs ending")],
                      fontsize=7, loc="lower right")
    scale = "" if ylim is not None or rung_names else " (each panel its own y scale)"
    fig.suptitle(title + scale, fontweight="bold")
    fig.tight_layout()
    return fig


SAMPLE_PATHS = 5  # thin lines over a fan: enough to show paths' shapes, few enough to read


def _sample_paths(ax, paths: dict[str, np.ndarray], name: str, split: dict | None) -> None:
    """Draw a few runs' daily paths; with a split, coloured by the mode each ends in."""
    runs = np.unique(paths["run"])[:SAMPLE_PATHS]
    labelled = set()
    for run in runs:
        sel = paths["run"] == run
        order = np.argsort(paths["day"][sel])
        values = np.asarray(paths[name][sel], float)[order]
        colour, label = "0.35", "sample runs"
        if split and split["bimodal"]:
            high = values[-1] > split["threshold"]
            colour = OKABE_ITO[1] if high else OKABE_ITO[4]
            label = f"sample runs ending {'high' if high else 'low'}"
        ax.plot(_dates(paths["date"][sel][order]), values, color=colour, lw=0.8, alpha=0.9,
                label=None if label in labelled else label)
        labelled.add(label)


def _split_note(split: dict) -> str:
    p = "p < 0.001" if split["p"] < 0.001 else f"p = {split['p']:.3f}"
    return (f"final values split in two:\n{split['low_share']:.0%} of runs near "
            f"{_short(split['low_median'])}, {split['high_share']:.0%} near "
            f"{_short(split['high_median'])}\n(dip test {p})")


def _short(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.2g}" if abs(x) < 10 else f"{x:.0f}"


def _compact(x: float) -> str:
    """A tick label of a count: 950, 12k, 1.5M (a run of digits runs into its neighbours)."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _dates(values) -> list[dt.date]:
    return [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in values]


def bimodality(values: np.ndarray, *, log: bool = False, alpha: float = 0.01,
               min_share: float = 0.05, min_gap: float = 0.0) -> dict[str, Any] | None:
    """Whether an ensemble's values fall in two modes, and the share of runs in each.

    Hartigan's dip test (the ``diptest`` package) rejects unimodality at ``alpha``; the
    split point is the exact two-cluster split of the sorted values (1-D k-means with k = 2:
    the cut that minimises the within-cluster sum of squares), on ``log1p`` of the values for
    counts. The values are called bimodal when the test rejects and each side holds at least
    ``min_share`` of the runs (a 1% blip is a tail, not a mode) and the two modes' medians
    are at least ``min_gap`` apart on the scale of the split (with thousands of runs the test
    also finds dips a reader would not call two outcomes, such as pressures of 0.0094 and
    0.0097; ``SPLIT_GAP`` holds the gaps the figures use). Integer values (counts)
    are spread evenly within ±0.5 of each value before the test, as a histogram of unit bins
    would be: the staircase of many tied integers is otherwise read as many modes.

    Args:
        values: One value per run (NaN ignored).
        log: Split on ``log1p(values)`` (non-negative counts spanning orders of magnitude).
        alpha: Significance level of the dip test.
        min_share: Smallest share of runs a mode must hold.
        min_gap: Smallest difference between the modes' medians (of ``log1p`` with ``log``).

    Returns:
        None when there are fewer than 20 runs or the values do not vary; else a dict with
        ``dip``, ``p``, ``bimodal``, ``threshold`` (the cut), ``low_share``/``high_share``
        (of runs below/above it) and ``low_median``/``high_median``.
    """
    import diptest

    x = np.sort(np.asarray(values, float))
    x = x[np.isfinite(x)]
    if x.size < 20 or x[0] == x[-1]:
        return None
    tested = x
    if np.all(x == np.round(x)):
        _, first, counts = np.unique(x, return_index=True, return_counts=True)
        within = np.arange(x.size) - np.repeat(first, counts)
        tested = x - 0.5 + (within + 0.5) / np.repeat(counts, counts)
    dip, p = diptest.diptest(tested, sort_x=False)
    z = np.log1p(np.maximum(x, 0.0)) if log else x
    n = z.size
    csum, csq = np.cumsum(z), np.cumsum(z * z)
    k = np.arange(1, n)  # cut before index k: z[:k] | z[k:]
    within_ss = (csq[k - 1] - csum[k - 1] ** 2 / k
                 + (csq[-1] - csq[k - 1]) - (csum[-1] - csum[k - 1]) ** 2 / (n - k))
    within_ss[z[k - 1] == z[k]] = np.inf  # cut only between distinct values
    cut = int(k[np.argmin(within_ss)])
    low, high = x[:cut], x[cut:]
    low_share = cut / n
    gap = float(np.median(z[cut:]) - np.median(z[:cut]))
    return {"dip": float(dip), "p": float(p), "threshold": float((x[cut - 1] + x[cut]) / 2),
            "low_share": low_share, "high_share": 1 - low_share,
            "low_median": float(np.median(low)), "high_median": float(np.median(high)),
            "bimodal": bool(p < alpha and min(low_share, 1 - low_share) >= min_share
                            and gap >= min_gap)}


#: smallest gap between two modes' medians for ``bimodality`` to call a series split, by kind:
#: counts on log1p (0.1: a tenth apart), affinity on -1..1 and pressure on 0..1
SPLIT_GAP = {"losses": 0.1, "people": 0.1, "affinity": 0.1, "pressure": 0.05}


# level palettes: sequential light to dark (rungs), or off/on (deals in force, gates open)
def _level_colours(kind: str, count: int) -> list:
    if kind == "deal":
        return ["#DDDDDD", OKABE_ITO[2]]
    if kind == "gate":
        return ["#DDDDDD", OKABE_ITO[1]]
    cmap = matplotlib.colormaps["YlOrRd"]
    return [cmap(v) for v in np.linspace(0.08, 0.95, count)]


LEVEL_NAMES = {"deal": ["not in force", "in force"], "gate": ["closed", "open"]}


def level_shares(levels: dict[str, np.ndarray], name: str) -> tuple[list[dt.date], np.ndarray]:
    """One series' ``(dates, (days, levels) shares of runs)`` from ``levels.parquet``."""
    sel = levels["series"] == name
    day, level, share = levels["day"][sel], levels["level"][sel], levels["share"][sel]
    out = np.zeros((int(day.max()) + 1, int(level.max()) + 1))
    out[day, level] = share
    first = {int(d): v for d, v in zip(day, levels["date"][sel], strict=True)}
    return _dates([first[d] for d in range(out.shape[0])]), out


def _wrap_items(head: str, items: list[str], width: int) -> list[str]:
    """``head`` and items joined by " · " in lines of about ``width``, never inside an item."""
    lines, line = [], head
    for item in items:
        if len(line) + 3 + len(item) > width and line != head:
            lines.append(line)
            line = item
        else:
            line = f"{line} {item}" if line == head else f"{line} · {item}"
    return [*lines, line]


def level_chart(levels: dict[str, np.ndarray], series: list[str], title: str,
                level_names: list[str] | None = None,
                note: str | None = None) -> tuple[Figure, np.ndarray]:
    """The share of runs at each level per day: stacked areas, one panel per series.

    For rungs (ordinal), deals in force and gates open, a quantile band cannot show a
    minority of runs: a 17% tail at war sits outside every band but the 90% one. Here every
    level's share is an area whose height is that share, and each panel's subtitle gives the
    last day's shares of the levels held by at least 1% of runs, so a 10% tail is read at a
    glance, and the peak share of the highest level reached when that tail came and went.
    The data drawn are ``levels.parquet``'s exact shares.

    Args:
        levels: ``levels.parquet`` as columns (day, date, series, level, share).
        series: Series of one kind (``rung.``, ``deal.`` or ``gate.``), one panel each.
        title: Figure title.
        level_names: Names of the levels, lowest first (the ladder's rung names); deals and
            gates default to "not in force"/"in force" and "closed"/"open".
        note: A line written under the legend (the series left out as nearly constant).

    Returns:
        ``(fig, axes)``: the axes of the drawn panels, in the order of ``series``.
    """
    kind = series[0].split(".", 1)[0]
    n = len(series)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(max(4.8 * cols, 7.0), 3.4 * rows + 0.9))
    grid = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    count = max(int(levels["level"][levels["series"] == s].max()) + 1 for s in series)
    names = list(level_names or LEVEL_NAMES.get(kind, []))
    names += [f"level {k}" for k in range(len(names), count)]
    colours = _level_colours(kind, count)
    for ax, name in zip(grid.flat, series, strict=False):
        dates, shares = level_shares(levels, name)
        shares = np.pad(shares, ((0, 0), (0, count - shares.shape[1])))
        ax.stackplot(dates, 100 * shares.T, colors=colours, labels=names[:count], lw=0)
        last = [f"{names[k]} {shares[-1, k]:.0%}" for k in range(count)
                if shares[-1, k] >= 0.01]
        title_lines = [name.split(".", 1)[1].replace("~", " – "),
                       *_wrap_items("last day:", last, 52)]
        top = max((k for k in range(1, count) if shares[:, k].max() >= 0.01), default=None)
        peak = int(np.argmax(shares[:, top])) if top is not None else 0
        if peak > 0 and shares[peak, top] > max(shares[-1, top], shares[0, top]) + 0.01:
            # a tail that arose during the runs and receded: the last day alone hides it
            title_lines.append(f"most at {names[top]}: {shares[peak, top]:.0%} on "
                               f"{dates[peak]:%d %b}")
        ax.set_title("\n".join(title_lines), fontsize=9)
        ax.set_ylim(0, 100)
        ax.set_xlim(dates[0], dates[-1])
        ax.set_ylabel("% of runs")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    for ax in list(grid.flat)[n:]:
        ax.set_visible(False)
    handles, labels = grid.flat[0].get_legend_handles_labels()
    fig.suptitle(title, fontweight="bold")
    if note:
        fig.set_figheight(fig.get_figheight() + 0.35)
        fig.text(0.01, 0.01, note, fontsize=10, color="0.3", ha="left", va="bottom",
                 wrap=True)
    fig.tight_layout(rect=(0, (0.75 + (0.35 if note else 0.0)) / fig.get_figheight(), 1, 1))
    # the figure is drawn about 1.6x wider than the report shows it: a legend of 11 pt reads
    # as about 7 pt there (8 pt read as 6 px), with swatches large enough to tell pale rungs
    # apart
    fig.legend(handles, labels, loc="lower center", ncol=min(count, 8), fontsize=11,
               bbox_to_anchor=(0.5, (0.35 if note else 0.0) / fig.get_figheight()),
               title="level (stacked from the bottom, lowest first)", title_fontsize=11,
               frameon=False, handlelength=2.2, handleheight=1.4)
    return fig, grid.flat[:n]


def ecdf_panel(runs: dict[str, np.ndarray], columns: list[str], title: str,
               horizon: int | None = None) -> Figure:
    """Empirical CDFs of indicators across runs.

    Day indicators are empty in the runs where the event never happened: their curve ends at
    the share of runs where it did, a dotted line carries that share to the right edge, and
    "never: N%" is written on the panel, so a curve stopping at 0.83 is not read as all.
    With ``horizon`` (the scenario's days), day axes run to the last day simulated.
    """
    n = len(columns)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(4.4 * cols, 3.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, columns, strict=False):
        x = np.asarray(runs[name], float)
        seen = np.sort(x[~np.isnan(x)])
        if seen.size:
            ax.step(np.r_[seen[0], seen], np.r_[0, np.arange(1, seen.size + 1)] / x.size,
                    where="post", color=OKABE_ITO[0])
        ax.set_ylim(0, 1.02)
        ax.set_title(name, fontsize=9)
        unit = "day of the run" if name.startswith("day.") else (
            "soldiers" if name.startswith("losses.") else "people")
        ax.set_xlabel(unit)
        if not name.startswith("day."):  # 100000 200000 ... ran together: 100k 200k
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5, integer=True))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
                lambda v, _pos: _compact(v)))
        ax.set_ylabel("share of runs at or below" if not name.startswith("day.")
                      else "share of runs by that day")
        if name.startswith("day."):
            _never_note(ax, seen, x.size, horizon)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


def _percent(share: float) -> str:
    """A share as a percentage, with a decimal near 0 and 1 (0.3% is not "0%")."""
    if 0 < share < 0.01 or 0.99 < share < 1:
        return f"{share:.1%}"
    return f"{share:.0%}"


def _never_note(ax, seen: np.ndarray, runs: int, horizon: int | None = None) -> None:
    """The ECDF's plateau at the share of runs where the event happened, and "never: N%".

    The notes go where the curve is not: at the top right when the event is rare (the curve
    stays low), at the bottom right when it is common (the curve has risen by then).
    """
    ever = seen.size / max(runs, 1)
    right = seen[-1] if seen.size else 1.0
    ax.set_xlim(left=min(0, seen[0] if seen.size else 0),
                right=horizon if horizon else max(right * 1.15, right + 3))
    ax.axhline(ever, color="0.4", lw=0.8, ls=":")
    low = ever >= 0.5
    ax.text(0.98, 0.06 if low else 0.97, f"never: {_percent(1 - ever)}", transform=ax.transAxes,
            ha="right", va="bottom" if low else "top", fontsize=9, fontweight="bold",
            color=NEGATIVE)
    ax.text(0.98, 0.16 if low else 0.87, f"ever: {_percent(ever)} (dotted line)",
            transform=ax.transAxes, ha="right", va="bottom" if low else "top", fontsize=8,
            color="0.3")


def event_day_ecdf(runs: dict[str, np.ndarray], columns: list[str], title: str,
                   horizon: int | None = None) -> tuple[Figure, np.ndarray]:
    """When events first happened: ECDFs of ``day.<event>`` columns, with "never: N%".

    Returns:
        ``(fig, axes)``, the axes in the order of ``columns``.
    """
    fig = ecdf_panel(runs, columns, title, horizon)
    return fig, np.array(fig.axes[:len(columns)])


def draw_network(ax: plt.Axes, actors: list[str], matrix: np.ndarray, label: str,
                 notes: dict[tuple[int, int], str] | None = None) -> None:
    """Actors on a circle; signed affinity edges, width by strength, hidden below 0.05.

    ``notes`` adds a line under an edge's value (``(i, j)`` with ``i < j``): a median edge
    of a split ensemble says it splits.
    """
    n = len(actors)
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False) + np.pi / 2
    xy = np.c_[np.cos(angle), np.sin(angle)]
    for i in range(n):
        for j in range(i + 1, n):
            a = matrix[i, j]
            if abs(a) < 0.05:
                continue
            ax.plot(*xy[[i, j]].T, color=POSITIVE if a > 0 else NEGATIVE,
                    lw=0.5 + 5 * abs(a), alpha=0.8, ls="-" if a > 0 else "--", zorder=1)
            mid = xy[[i, j]].mean(axis=0)
            note = (notes or {}).get((i, j))
            ax.text(*mid, f"{a:+.2f}" + (f"\n{note}" if note else ""), fontsize=7,
                    ha="center", va="center", color=NEGATIVE if note else "black",
                    bbox={"fc": "white", "ec": "none", "pad": 0.5}, zorder=2)
    ax.scatter(*xy.T, s=900, color="white", edgecolor="black", zorder=3)
    for (x, y), name in zip(xy, actors, strict=True):
        ax.text(x, y, name, ha="center", va="center", fontsize=8, zorder=4)
    ax.set_title(label)
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")


def network_legend() -> list[plt.Line2D]:
    """Legend handles for ``draw_network``'s edge styles."""
    return [plt.Line2D([], [], color=POSITIVE, lw=3, label="positive affinity"),
            plt.Line2D([], [], color=NEGATIVE, lw=3, ls="--", label="negative affinity")]


def alliance_network(actors: list[str], start: np.ndarray, end: np.ndarray, title: str,
                     start_label: str = "day 0", end_label: str = "last day (median)",
                     end_notes: dict[tuple[int, int], str] | None = None) -> Figure:
    """Signed, weighted affinity edges at the start and (median over runs) at the end.

    ``start_label`` must say which start it is: after the day-0 events (``plot_folder``
    takes the median of the day-1 record) or before them (the scenario's relations).
    """
    fig = Figure(figsize=(10, 5))
    axes = fig.subplots(1, 2)
    draw_network(axes[0], actors, start, start_label)
    draw_network(axes[1], actors, end, end_label, end_notes)
    fig.legend(handles=network_legend(), loc="lower center", ncol=2, fontsize=8)
    fig.suptitle(title + " (width: strength of affinity)", fontweight="bold")
    return fig


# ----------------------------------------------------------------------------- sweeps


def response_curves(runs: dict[str, np.ndarray], outcome: str, parameters: list[str],
                    bins: int = 10) -> Figure:
    """Outcome probability against each swept parameter: binned runs with 95% bands.

    At most ``MAX_PANELS`` parameters (the first).
    """
    parameters = list(parameters)[:MAX_PANELS]
    fig = Figure(figsize=(4.4 * len(parameters), 3.4))
    axes = fig.subplots(1, len(parameters), squeeze=False, sharey=True)
    flags = np.asarray(runs[f"outcome.{outcome}"], float)
    span = [100.0, 0.0]  # the range the bands cover, over every panel
    for ax, path in zip(axes.flat, parameters, strict=True):
        x = np.asarray(runs[f"param.{path}"], float)
        levels = np.unique(x)
        edges = (np.append(levels, levels[-1] + 1) if levels.size <= bins
                 else np.linspace(x.min(), x.max(), bins + 1))
        which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        centres, p, low, high = [], [], [], []
        for b in range(len(edges) - 1):
            sel = which == b
            if not sel.any():
                continue
            k, m = int(flags[sel].sum()), int(sel.sum())
            lo, hi = wilson_interval(k, m)
            centres.append(x[sel].mean())
            p.append(k / m)
            low.append(lo)
            high.append(hi)
        ax.fill_between(centres, 100 * np.array(low), 100 * np.array(high), color=OKABE_ITO[5],
                        alpha=0.4, lw=0, label="95% interval")
        ax.plot(centres, 100 * np.array(p), "o-", color=OKABE_ITO[0], ms=4, label="probability")
        ax.set_xlabel(path)
        ax.set_ylabel(f"P({outcome}) (%)")
        span = [min(span[0], 100 * min(low, default=1)), max(span[1], 100 * max(high,
                                                                               default=0))]
    # one y axis for all panels, fitted to the bands (issue 26: a fixed 0-100% axis flattened
    # every effect of a rare outcome), at least 10 points tall
    low_y, high_y = max(0.0, span[0] - 3), min(100.0, span[1] + 3)
    if high_y - low_y < 10:
        middle = (low_y + high_y) / 2
        low_y, high_y = max(0.0, middle - 5), min(100.0, middle + 5)
    axes.flat[0].set_ylim(low_y - 1, high_y + 1)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"Response of '{outcome}' to the swept parameters", fontweight="bold")
    fig.tight_layout()
    return fig


def heatmap(runs: dict[str, np.ndarray], outcome: str, x_path: str, y_path: str,
            bins: int = 8) -> Figure:
    """Outcome probability over two swept parameters (runs pooled in a grid of bins)."""
    x = np.asarray(runs[f"param.{x_path}"], float)
    y = np.asarray(runs[f"param.{y_path}"], float)
    flags = np.asarray(runs[f"outcome.{outcome}"], float)
    xe = np.linspace(x.min(), x.max(), bins + 1)
    ye = np.linspace(y.min(), y.max(), bins + 1)
    hits, _, _ = np.histogram2d(x, y, bins=[xe, ye], weights=flags)
    count, _, _ = np.histogram2d(x, y, bins=[xe, ye])
    prob = np.divide(hits, count, out=np.full_like(hits, np.nan), where=count > 0)
    fig = Figure(figsize=(6, 4.8))
    ax = fig.subplots()
    mesh = ax.pcolormesh(xe, ye, 100 * prob.T, cmap="cividis", vmin=0, vmax=100)
    fig.colorbar(mesh, ax=ax, label=f"P({outcome}) (%)")
    ax.set_xlabel(x_path)
    ax.set_ylabel(y_path)
    ax.set_title(f"'{outcome}' over two parameters")
    fig.tight_layout()
    return fig


def sensitivity_bars(sensitivity: dict, target: str) -> Figure:
    """Sobol S1/ST (or Morris mu*/sigma) per parameter, with 95% intervals."""
    res = sensitivity["results"][target]
    params = [_label(p) for p in sensitivity["parameters"][:MAX_ROWS]]
    res = {k: np.asarray(v, float)[:MAX_ROWS] for k, v in res.items()
           if k in ("S1", "ST", "mu_star", "S1_conf", "ST_conf", "mu_star_conf")}
    y = np.arange(len(params))
    fig = Figure(figsize=(7, 0.6 * len(params) + 1.8))
    ax = fig.subplots()
    if sensitivity["method"] == "sobol":
        pairs = (("S1", "first order S1"), ("ST", "total ST"))
    else:
        pairs = (("mu_star", "mu* (mean absolute effect)"),)
    height = 0.8 / len(pairs)
    for i, (key, label) in enumerate(pairs):
        ax.barh(y + i * height, res[key], height=height, xerr=res[f"{key}_conf"], capsize=3,
                label=label, color=OKABE_ITO[i])
    ax.set_yticks(y + height * (len(pairs) - 1) / 2, params, fontsize=8)
    ax.set_xlabel("index (with 95% interval)")
    ax.set_title(f"Sensitivity of {target}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- comparisons


def comparison_chart(comparison: dict,
                     by_construction: set[tuple[str, str]] | frozenset = frozenset(),
                     title: str = "Counterfactuals against the baseline (common random "
                     "numbers)") -> Figure:
    """Dot-and-whisker chart of each scenario's paired difference from the first.

    Args:
        comparison: ``comparison.json`` as parsed.
        by_construction: ``(outcome, scenario)`` pairs whose effect follows from the
            counterfactual's own definition (``constructed_effects``): the scenario forces or
            forbids the outcome, so its +85 points say nothing about the dynamics. They are
            drawn as hollow markers, the axis is scaled to the other effects, and one that
            falls outside it is written at the edge with its value.
        title: The chart's title (a sweep's policies are drawn by this chart too).
    """
    rows = [r for r in comparison["rows"] if "difference" in r]
    outcomes = list(dict.fromkeys(r["outcome"] for r in rows))[:MAX_ROWS]
    others = list(comparison["scenarios"][1:MAX_PANELS + 1])
    rows = [r for r in rows if r["outcome"] in outcomes and r["scenario"] in others]
    fig = Figure(figsize=(8.5, 0.3 * len(outcomes) * max(1.5, len(others) / 2) + 1.8))
    ax = fig.subplots()
    step = 0.8 / max(len(others), 1)
    free = [100 * v for r in rows if (r["outcome"], r["scenario"]) not in by_construction
            for v in (r["difference_low"], r["difference_high"])]
    limit = None
    if by_construction and free:  # the axis is the dynamics' effects', with a margin
        limit = max(5.0, 1.15 * max(abs(v) for v in free))
    for s, name in enumerate(others):
        colour = OKABE_ITO[s % len(OKABE_ITO)]
        offset = (s - (len(others) - 1) / 2) * step
        for constructed in (False, True):
            sel = [r for r in rows if r["scenario"] == name
                   and ((r["outcome"], name) in by_construction) == constructed]
            if not sel:
                continue
            y = np.array([outcomes.index(r["outcome"]) for r in sel]) + offset
            d = 100 * np.array([r["difference"] for r in sel])
            lo = 100 * np.array([r["difference_low"] for r in sel])
            hi = 100 * np.array([r["difference_high"] for r in sel])
            if not constructed:
                ax.errorbar(d, y, xerr=[d - lo, hi - d], fmt="o", ms=4, capsize=2,
                            color=colour, label=_label(name))
                continue
            for di, yi in zip(d, y, strict=True):
                inside = limit is None or abs(di) <= limit
                x = di if inside else np.sign(di) * limit
                ax.plot([x], [yi], marker="o" if inside else (">" if di > 0 else "<"),
                        ms=6, mfc="white", mec=colour, ls="none", clip_on=False)
                ax.annotate(f"{di:+.0f} pts by construction", (x, yi), fontsize=7,
                            xytext=(-6 if di > 0 else 6, 6), textcoords="offset points",
                            ha="right" if di > 0 else "left", color=colour)
    if limit is not None:
        ax.set_xlim(-limit, limit)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(outcomes)), [_label(o).replace("_", " ") for o in outcomes])
    ax.invert_yaxis()  # outcomes top to bottom in the scenario's order
    ax.set_xlabel(f"change in probability vs {comparison['scenarios'][0]} "
                  "(percentage points, paired 95% interval)")
    ax.set_title(title)
    if by_construction:
        ax.plot([], [], marker="o", mfc="white", mec="0.3", ls="none",
                label="by construction (axis scaled to the others)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def constructed_effects(folder: Path, comparison: dict) -> dict[tuple[str, str], str]:
    """The comparison's effects that follow from a counterfactual's own definition.

    An outcome that a counterfactual's structure forces or forbids (``sim.reachability``: it
    deploys an asset on day 0, it takes a deal off every menu) while the baseline's does not
    has an effect "by construction": it is the counterfactual's premise, not a finding. Each
    scenario is read from its subfolder's ``scenario.resolved.yaml`` through the scenario
    loader (untrusted input); a name that is not a plain folder name, or a scenario that does
    not load, gives no mark.

    Returns:
        ``{(outcome, scenario): why}``.
    """
    from sim.errors import SimError
    from sim.reachability import outcome_verdicts
    from sim.scenario.loader import load_scenario

    def verdicts(name: object) -> dict | None:
        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name \
                or "\\" in name:
            return None
        path = Path(folder) / name / "scenario.resolved.yaml"
        try:
            return outcome_verdicts(load_scenario(path).spec) if path.is_file() else None
        except (SimError, OSError, KeyError, TypeError, ValueError, AttributeError):
            return None

    try:
        names = list(comparison["scenarios"])
        rows = list(comparison["rows"])
    except (KeyError, TypeError):
        return {}
    if len(names) < 2:
        return {}
    base = verdicts(names[0])
    if base is None:
        return {}
    found = {}
    for name in names[1:]:
        own = verdicts(name)
        for r in rows if own else ():
            if not isinstance(r, dict) or r.get("scenario") != name or "difference" not in r:
                continue
            v = own.get(r.get("outcome"))
            b = base.get(r.get("outcome"))
            if v is not None and v.verdict is not None and (b is None
                                                             or b.verdict != v.verdict):
                found[r["outcome"], name] = f"{v.verdict} there: {v.why}"
    return found


# ----------------------------------------------------------------------------- folders

#: the runs.parquet column holding a daily series' final value, by kind of series
FINAL_COLUMN = {"losses": "losses.{}", "people": "people.{}.final",
                "affinity": "affinity.{}.final", "pressure": "pressure.{}.final",
                "alignment": "alignment.{}.final", "control": "control.{}.final"}


def ensemble_splits(folder: Path, min_share: float = 0.05) -> list[dict[str, Any]]:
    """Where a saved ensemble splits, for the report: read from its tables, not re-run.

    Two kinds of rows: series of levels (rungs, deals, gates) whose last day has at least
    two levels each held by ``min_share`` of runs, with every level's share of at least 1%;
    and final values (losses, people, affinities, pressure) that ``bimodality`` calls
    bimodal, with the share of runs in each mode.
    """
    folder = Path(folder)
    rows: list[dict[str, Any]] = []
    scenario = read_results_yaml(folder / "scenario.resolved.yaml")
    rungs = [r.get("name", k) for k, r in scenario.get("ladder", {}).get("rungs", {}).items()]
    if (folder / "levels.parquet").exists():
        levels = _read(folder / "levels.parquet")
        for name in dict.fromkeys(levels["series"]):
            kind = name.split(".", 1)[0]
            names = rungs if kind == "rung" else LEVEL_NAMES.get(kind, [])
            _, shares = level_shares(levels, name)
            last = shares[-1]
            if (last >= min_share).sum() >= 2:
                rows.append({"series": name, "kind": "levels", "shares": {
                    (names[k] if k < len(names) else f"level {k}"): float(last[k])
                    for k in range(last.size) if last[k] >= 0.01}})
    if (folder / "runs.parquet").exists():
        schema = table_columns(folder / "runs.parquet")
        wanted = [c for c in schema if (c.startswith("losses.") and c.count(".") == 1)
                  or (c.startswith(("people.", "affinity.", "pressure."))
                      and c.endswith(".final"))]
        for start in range(0, len(wanted), 8):
            table = read_table(folder / "runs.parquet", columns=wanted[start:start + 8])
            for column in table.column_names:
                values = table.column(column).to_numpy(zero_copy_only=False)
                kind = column.split(".", 1)[0]
                split = bimodality(values, log=kind in ("losses", "people"),
                                   min_gap=SPLIT_GAP[kind])
                if split and split["bimodal"]:
                    rows.append({"series": column, "kind": "values", **split})
    return rows


#: a series of levels with less than this share of runs ever off its most common level is
#: named under its figure, not drawn as a panel (it would read as a solid block)
NEARLY_CONSTANT = 0.01


def _off_share(levels: dict[str, np.ndarray], name: str) -> float:
    """The largest share of runs, over the days, away from the series' most common level."""
    _, shares = level_shares(levels, name)
    usual = int(np.argmax(shares.sum(axis=0)))
    return float((1.0 - shares[:, usual]).max())


def _varies(levels: dict[str, np.ndarray], name: str) -> bool:
    """Whether any day of a series of levels has runs at more than one level, or moves."""
    _, shares = level_shares(levels, name)
    return bool(((shares > 0).sum(axis=1) > 1).any() or np.ptp(shares, axis=0).any())


def _start_affinities(scenario: dict, actors: list[str], traj: dict | None
                      ) -> tuple[np.ndarray, str]:
    """The first network panel: the median after the day-0 events, when recorded.

    The trajectory's day 0 is the state before the day-0 events (an opening incident can
    move an affinity from +0.4 to -0.2), and its day 1 the state after them; without a
    trajectory, the scenario's relations are shown and labelled as before day 0.
    """
    start = np.eye(len(actors))
    if traj is not None and (traj["day"] == 1).any():
        sel = traj["day"] == 1
        values = dict(zip(traj["series"][sel], traj["q50"][sel], strict=True))
        for i in range(len(actors)):
            for j in range(i + 1, len(actors)):
                start[i, j] = start[j, i] = values.get(f"affinity.{actors[i]}~{actors[j]}", 0.0)
        when = _dates(traj["date"][traj["day"] == 0][:1])[0]
        return start, f"after day 0 ({when:%d %b %Y}), median"
    for key, rel in (scenario.get("relations") or {}).items():
        a, _, b = str(key).partition("~")
        value = rel.get("affinity", 0.0) if isinstance(rel, dict) else 0.0
        if a in actors and b in actors and isinstance(value, int | float):
            i, j = actors.index(a), actors.index(b)
            start[i, j] = start[j, i] = value
    return start, "before day 0 (the scenario's relations)"



def plot_folder(folder: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Make every figure that applies to a results folder; return the files written.

    The folder is untrusted input (it may have been received): its files are read with
    bounds, names in it are drawn as plain text (``$...$`` is not mathtext), and each figure
    is written to a new temporary file and renamed, so a symlink in ``figures/`` is replaced,
    never written through.
    """
    folder = Path(folder)
    made = not (folder / "figures").exists()
    out = figures_folder(folder)
    try:
        with plt.rc_context({"text.parse_math": False}):
            return _plot_folder(folder, out, formats)
    except BaseException:
        if made:  # a folder that cannot be drawn keeps no empty figures/ of this call's
            with contextlib.suppress(OSError):
                out.rmdir()  # only if still empty: a figure already written stays
        raise


def _plot_folder(folder: Path, out: Path, formats: tuple[str, ...]) -> list[Path]:
    written: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            save_figure(fig, path, fmt)
            written.append(path)
        plt.close(fig)

    scenario = read_results_yaml(folder / "scenario.resolved.yaml")
    name = _label(scenario.get("name", folder.name))  # a received name: one bounded line
    if (folder / "summary.json").exists():
        summary = read_json(folder / "summary.json")
        save(outcome_bars(summary["outcomes"], f"{name}: outcome probabilities "
                          f"({summary['runs']} runs)"), "outcomes")
    rungs = [r.get("name", k) for k, r in scenario.get("ladder", {}).get("rungs", {}).items()]
    if (folder / "levels.parquet").exists():
        levels = _read(folder / "levels.parquet")
        for kind, label in (("rung", "share of runs at each escalation rung"),
                            ("deal", "share of runs with each deal in force"),
                            ("gate", "share of runs with each gate open")):
            series = [s for s in dict.fromkeys(levels["series"]) if s.startswith(kind + ".")
                      and _varies(levels, s)]
            # a panel of one level with a sliver of the rest (a gate open in 0.5% of runs)
            # reads as a solid block: it is named under the figure instead of drawn
            slivers = {s: _off_share(levels, s) for s in series}
            noted = [s for s in series if slivers[s] < NEARLY_CONSTANT]
            series = [s for s in series if s not in noted]
            if series:
                note = ("Not drawn, under 1% of runs ever away from their usual level: " + ", "
                        .join(f"{s.split('.', 1)[1].replace('~', ' – ')} (at most "
                              f"{_percent(slivers[s])})" for s in noted)) if noted else None
                fig, _ = level_chart(levels, series[:12], f"{name}: {label}",
                                     rungs if kind == "rung" else None, note=note)
                save(fig, f"levels_{kind}")
    runs = None
    if (folder / "runs.parquet").exists() and not (folder / "comparison.json").exists():
        runs = _read(folder / "runs.parquet")
    traj = None
    if (folder / "trajectories.parquet").exists():
        traj = _read(folder / "trajectories.parquet")
        paths = _read(folder / "paths.parquet") if (folder / "paths.parquet").exists() else None
        kinds = [("losses", "Military losses (cumulative)", "soldiers", None, True),
                 ("people", "People per refugee node", "people", None, True),
                 ("affinity", "Affinity per dyad", "affinity", (-1.05, 1.05), False),
                 ("pressure", "Domestic pressure", "pressure", (-0.02, 1.02), False)]
        if not (folder / "levels.parquet").exists():  # an older folder: rungs as a fan
            kinds.insert(0, ("rung", "Escalation rung per dyad", "rung", None, False))
        for kind, label, ylabel, ylim, log in kinds:
            series = [s for s in dict.fromkeys(traj["series"]) if s.startswith(kind + ".")
                      and np.ptp(traj["q95"][traj["series"] == s]) + np.ptp(
                          traj["q05"][traj["series"] == s]) > 0]
            if not series:
                continue
            finals = {s: runs[FINAL_COLUMN[kind].format(s.split(".", 1)[1])] for s in series
                      if runs is not None and FINAL_COLUMN[kind].format(s.split(".", 1)[1])
                      in runs} if kind in FINAL_COLUMN else None
            save(fan_chart(traj, series[:9], f"{name}: {label.lower()}", ylabel,
                           rungs if kind == "rung" else None, paths=paths, finals=finals,
                           ylim=ylim, log_split=log), f"fan_{kind}")
    if runs is not None:
        horizon = scenario.get("run", {}).get("days")
        horizon = horizon if isinstance(horizon, int) else None
        columns = [c for c in runs if (c.startswith("losses.") and c.count(".") == 1
                                       and np.nanmax(runs[c]) > 0)]
        columns += [c for c in ("displaced.total", "day.agreement") if c in runs]
        if columns:
            save(ecdf_panel(runs, columns[:6], f"{name}: indicator distributions",
                            horizon), "indicators")
        days = [c for c in runs if c.startswith("day.") and c != "day.agreement"
                and not c.startswith("day.requested.") and np.isfinite(runs[c]).any()]
        order = ("day.war.", "day.agreement.", "day.breakdown.", "day.granted.",
                 "day.activated.", "day.opened.", "day.closed.", "day.realigned.")
        days.sort(key=lambda c: next((k for k, p in enumerate(order) if c.startswith(p)),
                                     len(order)))
        if days:
            fig, _ = event_day_ecdf(runs, days[:9], f"{name}: when events first happened",
                                    horizon)
            save(fig, "event_days")
        actors = list(scenario.get("actors", {}))
        if actors and len(actors) <= MAX_NETWORK and any(c.startswith("affinity.")
                                                         for c in runs):
            start, start_label = _start_affinities(scenario, actors, traj)
            end = np.eye(len(actors))
            notes = {}
            for i in range(len(actors)):
                for j in range(i + 1, len(actors)):
                    col = f"affinity.{actors[i]}~{actors[j]}.final"
                    end[i, j] = end[j, i] = np.median(runs[col])
                    split = bimodality(runs[col], min_gap=SPLIT_GAP["affinity"])
                    if split and split["bimodal"]:
                        notes[i, j] = (f"splits {split['low_share']:.0%} / "
                                       f"{split['high_share']:.0%}\nnear "
                                       f"{split['low_median']:+.2f} / "
                                       f"{split['high_median']:+.2f}")
            save(alliance_network(actors, start, end, f"{name}: alliance network",
                                  start_label, end_notes=notes), "network")
    if (folder / "sweep.parquet").exists():
        runs = _read(folder / "sweep.parquet")
        params = read_json(folder / "design.json")["problem"]["names"]
        outcomes = [c.removeprefix("outcome.") for c in runs if c.startswith("outcome.")
                    and 0 < np.mean(runs[c]) < 1]
        for outcome in outcomes[:6]:
            save(response_curves(runs, outcome, params), f"response_{outcome}")
        if len(params) >= 2 and outcomes:
            save(heatmap(runs, outcomes[0], params[0], params[1]), f"heatmap_{outcomes[0]}")
        if (folder / "policies.json").exists():  # a sweep with levers: policies' effects
            policies = read_json(folder / "policies.json")
            names = [p["policy"] for p in policies["policies"]]
            reference = policies["reference"]
            save(comparison_chart(
                {"scenarios": [reference, *[n for n in names if n != reference]],
                 "rows": [{**r, "scenario": r["policy"]} for r in policies["rows"]]},
                title="Policies against the reference (paired by point and replication)"),
                "policies")
        if (folder / "sensitivity.json").exists():
            sens = read_json(folder / "sensitivity.json")
            # every outcome with indices: the CLI prints them all, the figures must not stop
            # at six (the report's table has every one, indicators too)
            for target in [t for t in sens["results"] if t.startswith("outcome.")]:
                short = target.removeprefix("outcome.")
                save(sensitivity_bars(sens, target), f"sensitivity_{short}")
    if (folder / "comparison.json").exists():
        comparison = read_json(folder / "comparison.json")
        save(comparison_chart(comparison, set(constructed_effects(folder, comparison))),
             "comparison")
    posterior = posterior_figure(folder)
    if posterior is not None:
        save(posterior, "posterior")
    return written


def posterior_figure(folder: Path) -> Figure | None:
    """Prior against posterior of each value a ``--posterior`` run drew, or None.

    The posterior file is the one the run's manifest names (``varied.posterior``), read by
    ``read_posterior`` (bounded, shapes and weights checked: the manifest is untrusted, so a
    path to anything else is refused there); the priors are those the calibration fitted,
    from the ``calibration.json`` beside it (each validated by the scenario schema's
    ``Prior``; the run's resolved scenario holds point values only). A file that has moved or
    does not read gives None.
    """
    from pydantic import ValidationError

    from sim.errors import SimError

    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = read_json(path)
        varied = manifest.get("varied") if manifest.get("mode") == "posterior" else None
        if not isinstance(varied, dict) or not isinstance(varied.get("posterior"), str):
            return None
        from sim.scenario.schema import Prior
        from sim.validation.calibrate import posterior_plot, read_posterior

        posterior = Path(varied["posterior"])
        post = read_posterior(posterior)
        diagnostics = posterior.parent / "calibration.json"
        if not diagnostics.is_file():
            return None
        priors = read_json(diagnostics)["priors"]
        paths = [p for p in post["parameters"] if p in priors]
        if not paths:
            return None
        columns = [post["parameters"].index(p) for p in paths]
        samples = np.asarray(post["samples"], float)[:, columns]
        return posterior_plot(paths, [Prior.model_validate(priors[p]) for p in paths],
                              samples, np.asarray(post["weights"], float))
    except (SimError, OSError, KeyError, TypeError, ValueError, AttributeError, IndexError,
            ValidationError):
        return None


# ----------------------------------------------------------------------------- the story

#: The report's chapters, in the order a reader needs them: what happens, how far it
#: escalates, what it does to people, what it costs, who ends up with whom, then the rest.
CHAPTERS = ("Outcomes", "Escalation", "People", "Losses", "Alliances", "Details")

#: Each figure ``plot_folder`` draws (a file stem, or a prefix ending in "_" followed by an
#: outcome), its chapter and what to read in it; listed in the order the report shows them.
FIGURE_GUIDE: tuple[tuple[str, str, str], ...] = (
    ("outcomes", "Outcomes", "How likely each outcome is: the bar is the share of runs in "
     "which it happened, the whisker its 95% interval. Outcomes whose whiskers overlap are "
     "not told apart by this ensemble."),
    ("comparison", "Outcomes", "How each counterfactual changes each outcome's probability "
     "against the baseline, in percentage points with paired 95% intervals: a whisker that "
     "crosses 0 is no detectable change. Hollow markers are effects by construction (the "
     "counterfactual's premise, not a finding), written at the edge when off the axis."),
    ("policies", "Outcomes", "How each policy (a combination of the sweep's levers) changes "
     "each outcome's probability against the reference policy, in percentage points with 95% "
     "intervals from runs paired by point of the uncertainties and replication: a whisker "
     "that crosses 0 is no detectable change."),
    ("response_", "Outcomes", "How the probability of '{}' moves across each swept "
     "parameter's range (runs pooled in bins, 95% band): a steep curve is a parameter that "
     "drives it, a flat one a parameter it does not depend on."),
    ("heatmap_", "Outcomes", "The probability of '{}' over the first two swept parameters "
     "together: where the colour changes is the combination of values at which it becomes "
     "likely."),
    ("sensitivity_", "Outcomes", "Where the variation of '{}' across the sweep comes from, "
     "per parameter (95% intervals): S1 its effect alone, ST with its interactions. An index "
     "whose interval reaches 0 is not told apart from no effect; the table above gives the "
     "numbers."),
    ("discovery_tradeoff", "Outcomes", "Scenario discovery: each point is a box of parameter "
     "ranges on PRIM's peeling trajectory, coverage (the share of all cases inside it) "
     "against density (the outcome's share of the runs inside it); the chosen box is "
     "marked."),
    ("discovery_box", "Outcomes", "The chosen box's limits against the swept ranges, with the "
     "quasi-p value of each limit moved: the ranges that make the outcome likely."),
    ("levels_rung", "Escalation", "The share of runs at each escalation rung, day by day "
     "(stacked, lowest rung at the bottom): the dark top bands are the runs that escalated "
     "furthest; each panel's title gives the last day's shares."),
    ("fan_rung", "Escalation", "The escalation rung of each pair of actors over time: median "
     "and the bands holding 50% and 90% of runs."),
    ("event_days", "Escalation", "When events first happened: the share of runs in which each "
     "had happened by a given day; 'never' is the share of runs in which it did not happen "
     "at all."),
    ("levels_deal", "Escalation", "The share of runs with each deal in force, day by day: when "
     "deals come into force and how many runs keep them."),
    ("levels_gate", "Escalation", "The share of runs with each gate open, day by day."),
    ("fan_people", "People", "People at each refugee node over time: the median (line), the "
     "bands holding 50% and 90% of runs and a few single runs; a note in a panel says when "
     "the runs split into two groups."),
    ("fan_losses", "Losses", "Cumulative military losses over time: median, 50% and 90% "
     "bands and a few single runs; a wide upper band is a tail of costly runs."),
    ("network", "Alliances", "Who is aligned with whom at the start and on the last day "
     "(median over runs): solid blue edges are positive affinity, dashed red negative, the "
     "width its strength; read the edges that change sign or width."),
    ("fan_affinity", "Alliances", "Affinity of each pair of actors over time, from -1 "
     "(hostile) to +1 (aligned), on one scale: median, 50% and 90% bands."),
    ("fan_pressure", "Details", "Domestic pressure on each actor over time (0 to 1): median, "
     "50% and 90% bands."),
    ("indicators", "Details", "Distributions of the main indicators across runs (the share of "
     "runs at or below each value): the median is where a curve crosses 0.5, the tail its "
     "last stretch."),
    ("posterior", "Details", "The values the runs drew: each one's prior (grey) against the "
     "calibrated posterior (blue). A posterior narrower than its prior is what the "
     "observations taught; one piled against a bound of its prior says the prior may be too "
     "narrow."),
)


def figure_story(stems: list[str]) -> list[dict[str, Any]]:
    """The figures of a folder in the report's order, each with its chapter and caption.

    Args:
        stems: File stems of the folder's figures (``outcomes``, ``response_war``, ...).

    Returns:
        One dict per figure (``stem``, ``chapter``, ``caption``), ordered by chapter and, in
        a chapter, as ``FIGURE_GUIDE`` lists them (figures of one kind by outcome name). A
        figure the guide does not know goes to "Details" with its name as caption.
    """
    story = []
    for stem in stems:
        for rank, (key, chapter, caption) in enumerate(FIGURE_GUIDE):
            if key.endswith("_") and stem.startswith(key):
                story.append((rank, stem, chapter, caption.format(stem.removeprefix(key))))
                break
            if stem == key:
                story.append((rank, stem, chapter, caption))
                break
        else:
            story.append((len(FIGURE_GUIDE), stem, "Details", stem.replace("_", " ")))
    story.sort(key=lambda x: (CHAPTERS.index(x[2]), x[0], x[1]))
    return [{"stem": stem, "chapter": chapter, "caption": caption}
            for _, stem, chapter, caption in story]
