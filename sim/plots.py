"""Figures of outcome distributions, from saved outputs only (never re-running the model).

Every plotting function takes tables (dicts of numpy arrays, parsed JSON) and returns a
matplotlib ``Figure``; ``plot_folder`` finds what a results folder holds (an ensemble, a sweep
or a comparison) and saves every figure that applies as PNG and SVG. Colours are the
Okabe-Ito palette, distinguishable with the common forms of colour blindness.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from sim.analysis import wilson_interval
from sim.errors import UsageError
from sim.execution.outdir import read_json, read_results_yaml
from sim.execution.storage import save_figure

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000")
POSITIVE, NEGATIVE = "#0072B2", "#D55E00"
plt.rcParams.update({"axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
                     "figure.dpi": 100, "savefig.dpi": 120, "axes.spines.top": False,
                     "axes.spines.right": False, "axes.titleweight": "bold"})


def _read(path: Path) -> dict[str, np.ndarray]:
    table = pq.read_table(path)
    return {n: table.column(n).to_numpy(zero_copy_only=False) for n in table.column_names}


# ----------------------------------------------------------------------------- ensembles


def outcome_bars(outcomes: list[dict], title: str) -> Figure:
    """Horizontal bars of outcome probabilities with their 95% intervals."""
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
    ax.set_yticks(y, [r["outcome"].replace("_", " ") for r in rows])
    ax.set_xlim(0, 100)
    ax.set_xlabel("probability (% of runs), with 95% Wilson interval")
    ax.set_title(title)
    for yi, pi in zip(y, p, strict=True):
        ax.text(min(100 * pi + 1.5, 92), yi, f"{pi:.1%}", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def fan_chart(traj: dict[str, np.ndarray], series: list[str], title: str, ylabel: str,
              rung_names: list[str] | None = None) -> plt.Figure:
    """Median and 50%/90% bands over calendar dates, one panel per series."""
    n = len(series)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.0 * rows), squeeze=False,
                             sharex=True)
    for ax, name in zip(axes.flat, series, strict=False):
        mask = traj["series"] == name
        dates = [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
                 for d in traj["date"][mask]]
        ax.fill_between(dates, traj["q05"][mask], traj["q95"][mask], color=OKABE_ITO[5],
                        alpha=0.35, lw=0, label="90% of runs")
        ax.fill_between(dates, traj["q25"][mask], traj["q75"][mask], color=OKABE_ITO[0],
                        alpha=0.45, lw=0, label="50% of runs")
        ax.plot(dates, traj["q50"][mask], color="black", lw=1.2, label="median")
        ax.set_title(name.split(".", 1)[1].replace("~", " – "), fontsize=10)
        ax.set_ylabel(ylabel)
        if rung_names:
            ax.set_yticks(range(len(rung_names)), rung_names, fontsize=7)
            ax.set_ylim(-0.3, len(rung_names) - 0.7)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


def ecdf_panel(runs: dict[str, np.ndarray], columns: list[str], title: str) -> plt.Figure:
    """Empirical CDFs of indicators across runs (day indicators: runs where it happened)."""
    n = len(columns)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, columns, strict=False):
        x = np.asarray(runs[name], float)
        seen = np.sort(x[~np.isnan(x)])
        if seen.size:
            ax.step(seen, np.arange(1, seen.size + 1) / x.size, where="post",
                    color=OKABE_ITO[0])
        ax.set_ylim(0, 1.02)
        ax.set_title(name, fontsize=9)
        unit = "day of the run" if name.startswith("day.") else (
            "soldiers" if name.startswith("losses.") else "people")
        ax.set_xlabel(unit)
        ax.set_ylabel("share of runs at or below")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


def draw_network(ax: plt.Axes, actors: list[str], matrix: np.ndarray, label: str) -> None:
    """Actors on a circle; signed affinity edges, width by strength, hidden below 0.05."""
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
            ax.text(*mid, f"{a:+.2f}", fontsize=7, ha="center", va="center",
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


def alliance_network(actors: list[str], start: np.ndarray, end: np.ndarray, title: str
                     ) -> plt.Figure:
    """Signed, weighted affinity edges at the start and (median over runs) at the end."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    draw_network(axes[0], actors, start, "day 0")
    draw_network(axes[1], actors, end, "last day (median)")
    fig.legend(handles=network_legend(), loc="lower center", ncol=2, fontsize=8)
    fig.suptitle(title + " (width: strength of affinity)", fontweight="bold")
    return fig


# ----------------------------------------------------------------------------- sweeps


def response_curves(runs: dict[str, np.ndarray], outcome: str, parameters: list[str],
                    bins: int = 10) -> plt.Figure:
    """Outcome probability against each swept parameter: binned runs with 95% bands."""
    fig, axes = plt.subplots(1, len(parameters), figsize=(4.4 * len(parameters), 3.4),
                             squeeze=False)
    flags = np.asarray(runs[f"outcome.{outcome}"], float)
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
        ax.set_ylim(-2, 102)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"Response of '{outcome}' to the swept parameters", fontweight="bold")
    fig.tight_layout()
    return fig


def heatmap(runs: dict[str, np.ndarray], outcome: str, x_path: str, y_path: str,
            bins: int = 8) -> plt.Figure:
    """Outcome probability over two swept parameters (runs pooled in a grid of bins)."""
    x = np.asarray(runs[f"param.{x_path}"], float)
    y = np.asarray(runs[f"param.{y_path}"], float)
    flags = np.asarray(runs[f"outcome.{outcome}"], float)
    xe = np.linspace(x.min(), x.max(), bins + 1)
    ye = np.linspace(y.min(), y.max(), bins + 1)
    hits, _, _ = np.histogram2d(x, y, bins=[xe, ye], weights=flags)
    count, _, _ = np.histogram2d(x, y, bins=[xe, ye])
    prob = np.divide(hits, count, out=np.full_like(hits, np.nan), where=count > 0)
    fig, ax = plt.subplots(figsize=(6, 4.8))
    mesh = ax.pcolormesh(xe, ye, 100 * prob.T, cmap="cividis", vmin=0, vmax=100)
    fig.colorbar(mesh, ax=ax, label=f"P({outcome}) (%)")
    ax.set_xlabel(x_path)
    ax.set_ylabel(y_path)
    ax.set_title(f"'{outcome}' over two parameters")
    fig.tight_layout()
    return fig


def sensitivity_bars(sensitivity: dict, target: str) -> plt.Figure:
    """Sobol S1/ST (or Morris mu*/sigma) per parameter, with 95% intervals."""
    res = sensitivity["results"][target]
    params = sensitivity["parameters"]
    y = np.arange(len(params))
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(params) + 1.8))
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


def comparison_chart(comparison: dict) -> plt.Figure:
    """Dot-and-whisker chart of each scenario's paired difference from the first."""
    rows = [r for r in comparison["rows"] if "difference" in r]
    outcomes = list(dict.fromkeys(r["outcome"] for r in rows))
    others = comparison["scenarios"][1:]
    fig, ax = plt.subplots(figsize=(8.5, 0.3 * len(outcomes) * max(1.5, len(others) / 2) + 1.8))
    step = 0.8 / max(len(others), 1)
    for s, name in enumerate(others):
        sel = [r for r in rows if r["scenario"] == name]
        y = np.array([outcomes.index(r["outcome"]) for r in sel]) + (s - (len(others) - 1) / 2
                                                                      ) * step
        d = 100 * np.array([r["difference"] for r in sel])
        lo = 100 * np.array([r["difference_low"] for r in sel])
        hi = 100 * np.array([r["difference_high"] for r in sel])
        ax.errorbar(d, y, xerr=[d - lo, hi - d], fmt="o", ms=4, capsize=2,
                    color=OKABE_ITO[s % len(OKABE_ITO)], label=name)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(outcomes)), [o.replace("_", " ") for o in outcomes])
    ax.invert_yaxis()  # outcomes top to bottom in the scenario's order
    ax.set_xlabel(f"change in probability vs {comparison['scenarios'][0]} "
                  "(percentage points, paired 95% interval)")
    ax.set_title("Counterfactuals against the baseline (common random numbers)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- folders


def plot_folder(folder: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Make every figure that applies to a results folder; return the files written.

    The folder is untrusted input (it may have been received): its files are read with
    bounds, names in it are drawn as plain text (``$...$`` is not mathtext), and each figure
    is written to a new temporary file and renamed, so a symlink in ``figures/`` is replaced,
    never written through.
    """
    folder = Path(folder)
    out = folder / "figures"
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"{out} is a symlink or a file, not a folder; remove it and plot "
                         "again")
    out.mkdir(exist_ok=True)
    with plt.rc_context({"text.parse_math": False}):
        return _plot_folder(folder, out, formats)


def _plot_folder(folder: Path, out: Path, formats: tuple[str, ...]) -> list[Path]:
    written: list[Path] = []

    def save(fig: plt.Figure, name: str) -> None:
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            save_figure(fig, path, fmt)
            written.append(path)
        plt.close(fig)

    scenario = read_results_yaml(folder / "scenario.resolved.yaml")
    name = scenario.get("name", folder.name)
    if (folder / "summary.json").exists():
        summary = read_json(folder / "summary.json")
        save(outcome_bars(summary["outcomes"], f"{name}: outcome probabilities "
                          f"({summary['runs']} runs)"), "outcomes")
    if (folder / "trajectories.parquet").exists():
        traj = _read(folder / "trajectories.parquet")
        rungs = [r.get("name", k) for k, r in scenario.get("ladder", {}).get("rungs", {}).items()]
        for kind, label, ylabel in (("rung", "Escalation rung per dyad", "rung"),
                                    ("losses", "Military losses (cumulative)", "soldiers"),
                                    ("people", "People per refugee node", "people"),
                                    ("affinity", "Affinity per dyad", "affinity (-1..1)"),
                                    ("pressure", "Domestic pressure", "pressure (0..1)")):
            series = [s for s in dict.fromkeys(traj["series"]) if s.startswith(kind + ".")
                      and np.ptp(traj["q95"][traj["series"] == s]) + np.ptp(
                          traj["q05"][traj["series"] == s]) > 0]
            if series:
                save(fan_chart(traj, series[:9], f"{name}: {label.lower()}", ylabel,
                               rungs if kind == "rung" else None), f"fan_{kind}")
    if (folder / "runs.parquet").exists() and not (folder / "comparison.json").exists():
        runs = _read(folder / "runs.parquet")
        columns = [c for c in runs if (c.startswith("losses.") and c.count(".") == 1
                                       and np.nanmax(runs[c]) > 0)]
        columns += [c for c in ("displaced.total", "day.agreement") if c in runs]
        if columns:
            save(ecdf_panel(runs, columns[:6], f"{name}: indicator distributions"),
                 "indicators")
        actors = list(scenario.get("actors", {}))
        if actors and any(c.startswith("affinity.") for c in runs):
            start = np.eye(len(actors))
            end = np.eye(len(actors))
            for key, rel in scenario.get("relations", {}).items():
                a, b = key.split("~")
                i, j = actors.index(a), actors.index(b)
                start[i, j] = start[j, i] = rel.get("affinity", 0.0)
            for i in range(len(actors)):
                for j in range(i + 1, len(actors)):
                    col = f"affinity.{actors[i]}~{actors[j]}.final"
                    end[i, j] = end[j, i] = np.median(runs[col])
            save(alliance_network(actors, start, end, f"{name}: alliance network"), "network")
    if (folder / "sweep.parquet").exists():
        runs = _read(folder / "sweep.parquet")
        params = read_json(folder / "design.json")["problem"]["names"]
        outcomes = [c.removeprefix("outcome.") for c in runs if c.startswith("outcome.")
                    and 0 < np.mean(runs[c]) < 1]
        for outcome in outcomes[:6]:
            save(response_curves(runs, outcome, params), f"response_{outcome}")
        if len(params) >= 2 and outcomes:
            save(heatmap(runs, outcomes[0], params[0], params[1]), f"heatmap_{outcomes[0]}")
        if (folder / "sensitivity.json").exists():
            sens = read_json(folder / "sensitivity.json")
            for target in [t for t in sens["results"] if t.startswith("outcome.")][:6]:
                short = target.removeprefix("outcome.")
                save(sensitivity_bars(sens, target), f"sensitivity_{short}")
    if (folder / "comparison.json").exists():
        save(comparison_chart(read_json(folder / "comparison.json")),
             "comparison")
    return written
