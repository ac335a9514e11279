"""Scenario discovery on a saved sweep: which combinations of assumptions lead to an outcome.

Why: a sweep answers "how likely is war at each point"; an analyst asks the converse, "in
which region of the assumptions is war likely?". Scenario discovery (Bryant & Lempert 2010)
answers with PRIM (Friedman & Fisher 1999): starting from the whole swept space, it peels off
thin slices of a parameter's range, each time the slice whose removal raises the share of
runs with the outcome the most, and records the trajectory of boxes. Each box has a
*coverage* (the share of all runs with the outcome that fall in the box) and a *density* (the
share of runs in the box that have the outcome: the outcome's probability there). The analyst
chooses a box on that trade-off; each restricted limit has a quasi-p value, a one-sided
binomial test of whether the restriction matters (Bryant & Lempert 2010, sec. 3). A CART
classification tree (Breiman et al. 1984) is a second view of the same question.

Implementation: the EMA Workbench's PRIM (Kwakkel 2017), the reference implementation, and
scikit-learn's decision tree; this module only chooses the target, the box, and writes
``discovery.json`` and the figures. Every run of the sweep is one case (``x`` its parameter
values, ``y`` its outcome flag): with replications at each point the box's density is then
the outcome's probability over the runs in the box. The target is an outcome flag or a
structured condition on an indicator (``--where "losses.a>=50"``), parsed into the same
``Condition`` the scenario's outcomes use and evaluated by ``sim.outcomes.evaluate``: never
``eval``. Everything read from the folder is untrusted: YAML is read safely, and names are
checked against the table's columns.
"""

from __future__ import annotations

import logging
import re
import warnings
from difflib import get_close_matches
from pathlib import Path

import numpy as np

from sim.errors import UsageError
from sim.execution.outdir import read_json, read_results_yaml

log = logging.getLogger(__name__)

#: The chosen box is the densest on the trajectory with at least this coverage.
MIN_COVERAGE = 0.5
#: Restrictions with a quasi-p value above this are reported as not significant.
SIGNIFICANT = 0.05
#: CART: depth of the tree and smallest leaf (as a share of the runs), kept readable.
TREE_DEPTH = 3
TREE_MIN_LEAF = 0.05

#: Longest --where condition read (an indicator name, an operator and a number or rung).
MAX_WHERE = 500
_NAME = re.compile(r"[A-Za-z0-9_.~\-]+")  # one character class, matched once: linear
_OPERATORS = (">=", "<=", "==", "!=", ">", "<")


def _shown(text: str, width: int = 60) -> str:
    """``text`` for a message: at most ``width`` characters (a condition is echoed, not kept)."""
    text = text.strip()
    return text if len(text) <= width else f"{text[:width - 3]}..."


def _split_where(text: str) -> tuple[str, str, str] | None:
    """``(name, op, value)`` of ``NAME OP VALUE`` or ``NAME happened|never`` (None: neither).

    A plain scan, linear in the text (a backtracking pattern once took 45 s on 100 KB).
    """
    text = text.strip()
    match = _NAME.match(text)
    if match is None:
        return None
    name, rest = match.group(), text[match.end():]
    if rest[:1].isspace() and rest.strip() in ("happened", "never"):
        return name, rest.strip(), ""
    rest = rest.lstrip()
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        return None
    value = rest[len(op):].strip()
    return (name, op, value) if value else None


def parse_where(text: str, columns: list[str], rungs: list[str]):
    """Parse ``INDICATOR OP VALUE`` (or ``INDICATOR happened|never``) into a ``Condition``.

    Args:
        text: The condition, e.g. ``losses.a>=50``, ``rung.a~b.max>=war`` (a rung's name),
            ``day.war.a~b happened``.
        columns: The indicator columns of the runs table.
        rungs: The ladder's rung keys, in order (for rung names as values).

    Raises:
        UsageError: The text is not of that form, or names no indicator of the table.
    """
    from sim.scenario.schema import Condition

    shown = _shown(text)
    if len(text) > MAX_WHERE:
        raise UsageError(f"--where '{shown}': longer than {MAX_WHERE} characters; a condition "
                         "is one INDICATOR OP VALUE")
    parts = _split_where(text)
    if parts is None:
        raise UsageError(f"--where '{shown}': write INDICATOR OP VALUE with OP one of >= > <= "
                         "< == != (e.g. 'losses.a>=50'), or 'INDICATOR happened|never'")
    name, op, value_text = parts
    if name not in columns:
        close = get_close_matches(name, columns, n=1, cutoff=0.5) if len(name) <= 200 else []
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"--where '{shown}': the sweep has no indicator '{_shown(name)}'"
                         f"{hint} (the columns of sweep.parquet are the indicators)")
    if op in ("happened", "never"):
        return Condition(indicator=name, op=op)
    try:
        value = float(value_text)
    except ValueError:
        if name.startswith("rung.") and value_text in rungs:
            return Condition(indicator=name, op=op, rung=value_text)
        raise UsageError(f"--where '{shown}': '{_shown(value_text, 30)}' is not a number"
                         + (f" or a rung ({', '.join(rungs)})" if name.startswith("rung.")
                            else "")) from None
    if not np.isfinite(value):
        raise UsageError(f"--where '{shown}': the value must be a finite number")
    return Condition(indicator=name, op=op, value=value)


def target(runs: dict[str, np.ndarray], *, outcome: str | None, where: str | None,
           rungs: list[str]) -> tuple[str, np.ndarray]:
    """The cases of interest: ``(label, (runs,) bool)`` from an outcome flag or a condition.

    Raises:
        UsageError: Neither or both are given, or the outcome is not in the table.
    """
    from sim.outcomes import evaluate

    if (outcome is None) == (where is None):
        raise UsageError("discover: give either --outcome NAME or --where CONDITION")
    if outcome is not None:
        known = sorted(c.removeprefix("outcome.") for c in runs if c.startswith("outcome."))
        if f"outcome.{outcome}" not in runs:
            close = get_close_matches(outcome, known, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UsageError(f"--outcome: no outcome '{outcome}' in this sweep{hint} "
                             f"(outcomes: {', '.join(known)})")
        return outcome, np.asarray(runs[f"outcome.{outcome}"], bool)
    indicators = [c for c in runs if not c.startswith(("outcome.", "param.", "lever."))
                  and c not in ("run", "point", "replication", "rep", "policy")]
    cond = parse_where(where, indicators, rungs)
    values = {name: np.asarray(runs[name], float) for name in indicators}
    return where.strip(), evaluate(cond, values, rungs)  # at most MAX_WHERE characters


def prim_analysis(x, y: np.ndarray, min_coverage: float = MIN_COVERAGE) -> dict:
    """PRIM's peeling trajectory and the chosen box (EMA Workbench's ``Prim``).

    Args:
        x: ``pandas.DataFrame`` of parameter values, one row per run.
        y: The cases of interest, one bool per run.
        min_coverage: The chosen box is the densest with at least this coverage (Bryant &
            Lempert choose by eye on the trade-off curve; a rule makes the command
            reproducible, and ``trajectory`` keeps every box for another choice).

    Returns:
        ``trajectory`` (per box: coverage, density, mass, restricted dimensions, runs),
        ``chosen`` (its index) and ``box`` (per restricted parameter: low, high, the quasi-p
        value of each limit PRIM moved and whether it is significant), ``unrestricted``
        (parameters left at their full range), and ``significant_box``: coverage, density
        and runs of the box that keeps only the significant limits (Bryant & Lempert 2010
        drop a restriction a quasi-p value does not support: it is the box to report).
    """
    with warnings.catch_warnings():
        # the Workbench warns, on import, of its optional cluster back-ends, and about pandas
        # deprecations inside its own code: neither is the user's business
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        finder = prim.Prim(x, y.astype(int), mass_min=0.05)
        box = finder.find_box()
    traj = box.peeling_trajectory
    trajectory = [{"box": int(i), "coverage": float(r["coverage"]),
                   "density": float(r["density"]), "mass": float(r["mass"]),
                   "restricted": int(r["res_dim"]), "runs": int(r["n"])}
                  for i, r in traj.iterrows()]
    eligible = [t for t in trajectory if t["coverage"] >= min_coverage] or trajectory[:1]
    chosen = max(eligible, key=lambda t: (t["density"], t["coverage"]))["box"]
    limits = box.box_lims[chosen]
    full = box.box_lims[0]
    p_values = box.p_values[chosen]
    restricted, unrestricted = [], []
    keep = np.ones(len(y), bool)  # runs inside the box of significant limits only
    for name in x.columns:
        if name not in p_values:
            unrestricted.append(name)
            continue
        if _categorical(x[name]):  # a lever's options: PRIM keeps a subset of them
            chosen_values = sorted(map(str, limits[name].iloc[0]))
            qp = float(p_values[name][0]) if float(p_values[name][0]) >= 0 else None
            kept = qp is not None and qp <= SIGNIFICANT
            if kept:
                keep &= x[name].astype(str).isin(chosen_values).to_numpy()
            restricted.append({
                "parameter": name, "categorical": True, "values": chosen_values,
                "range_values": sorted(map(str, full[name].iloc[0])),
                "low": None, "high": None, "range_low": None, "range_high": None,
                "qp_low": qp, "qp_high": None, "low_significant": kept,
                "high_significant": False, "significant": kept})
            continue
        low, high = float(limits[name].iloc[0]), float(limits[name].iloc[1])
        # EMA marks a limit that was not moved with -1
        qp_low, qp_high = (float(v) if float(v) >= 0 else None for v in p_values[name])
        low_kept = qp_low is not None and qp_low <= SIGNIFICANT
        high_kept = qp_high is not None and qp_high <= SIGNIFICANT
        values = x[name].to_numpy()
        if low_kept:
            keep &= values >= low
        if high_kept:
            keep &= values <= high
        restricted.append({
            "parameter": name, "low": low, "high": high,
            "range_low": float(full[name].iloc[0]), "range_high": float(full[name].iloc[1]),
            "qp_low": qp_low, "qp_high": qp_high, "low_significant": low_kept,
            "high_significant": high_kept, "significant": low_kept or high_kept})
    cases = max(int(y.sum()), 1)
    significant = {"coverage": float(y[keep].sum() / cases),
                   "density": float(y[keep].mean()) if keep.any() else 0.0,
                   "runs": int(keep.sum())}
    return {"trajectory": trajectory, "chosen": chosen, "box": restricted,
            "unrestricted": unrestricted, "min_coverage": min_coverage,
            "significant_box": significant}


def _categorical(column) -> bool:
    """Whether a column of ``x`` holds categories (a categorical lever's options)."""
    import pandas as pd

    return isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object


def cart_analysis(x, y: np.ndarray) -> dict:
    """A shallow classification tree (scikit-learn): its rules and leaves.

    Returns:
        ``rules`` (the tree as indented text) and ``leaves``: per leaf its limits per
        parameter, runs, density (share with the outcome) and coverage.
    """
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier, export_text

    categories = [n for n in x.columns if _categorical(x[n])]
    if categories:  # the tree splits numbers: one 0/1 column per option, named lever=option
        x = pd.get_dummies(x, columns=categories, prefix_sep="=", dtype=float)
    names = list(x.columns)
    tree = DecisionTreeClassifier(max_depth=TREE_DEPTH, min_samples_leaf=TREE_MIN_LEAF,
                                  random_state=0).fit(x.values, y)
    t = tree.tree_
    total = max(int(y.sum()), 1)
    leaves = []
    which = tree.apply(x.values)

    def walk(node: int, bounds: dict[str, list[float]]) -> None:
        if t.children_left[node] == -1:
            inside = which == node
            limits = {n: {"low": b[0], "high": b[1]} for n, b in bounds.items()}
            leaves.append({"limits": limits, "runs": int(inside.sum()),
                           "density": float(y[inside].mean()) if inside.any() else 0.0,
                           "coverage": float(y[inside].sum() / total)})
            return
        name, cut = names[t.feature[node]], float(t.threshold[node])
        left = {**bounds, name: [bounds.get(name, [None, None])[0], cut]}
        right = {**bounds, name: [cut, bounds.get(name, [None, None])[1]]}
        walk(t.children_left[node], left)
        walk(t.children_right[node], right)

    walk(0, {})
    leaves.sort(key=lambda leaf: -leaf["density"])
    return {"rules": export_text(tree, feature_names=names, show_weights=False),
            "depth": TREE_DEPTH, "leaves": leaves}


def discover_folder(folder: Path, *, outcome: str | None = None, where: str | None = None,
                    min_coverage: float = MIN_COVERAGE, write: bool = True) -> dict:
    """PRIM and CART on a sweep's runs; writes ``discovery.json`` and figures if asked."""
    import pandas as pd

    from sim.execution.storage import read_runs

    if not 0.0 < min_coverage <= 1.0:
        raise UsageError(f"--min-coverage must be in (0, 1], not {min_coverage}")
    try:
        design = read_json(folder / "design.json")
        params = [str(p) for p in design["problem"]["names"]]
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{folder}: cannot read the sweep's design.json ({exc})") from None
    runs = read_runs(folder / "sweep.parquet")  # sizes checked before anything is decoded
    missing = [p for p in params if f"param.{p}" not in runs]
    if missing:
        raise UsageError(f"{folder}/sweep.parquet has no column param.{missing[0]}")
    rungs: list[str] = []
    resolved = folder / "scenario.resolved.yaml"
    if resolved.exists():
        data = read_results_yaml(resolved)
        rungs = [str(r) for r in (data.get("ladder", {}) or {}).get("rungs", {}) or {}]
    label, y = target(runs, outcome=outcome, where=where, rungs=rungs)
    x = pd.DataFrame({p: np.asarray(runs[f"param.{p}"], float) for p in params})
    levers = _lever_inputs(design, runs, folder)
    for name, column in levers.items():  # levers are inputs too: categories, or numbers
        x[name] = column
    params = [*params, *levers]
    if not params:
        raise UsageError(f"{folder}: the sweep varied nothing (no uncertainties, no levers)")
    result = {"target": label, "kind": "outcome" if outcome is not None else "condition",
              "runs": int(y.size), "cases": int(y.sum()), "base_rate": float(y.mean()),
              "parameters": params}
    if 0 < y.sum() < y.size:
        result["prim"] = prim_analysis(x, y, min_coverage)
        result["cart"] = cart_analysis(x, y)
    else:
        result["note"] = (f"'{label}' is {'true' if y.all() else 'false'} in every run: "
                          "nothing to discover (widen the ranges or choose another target)")
    if write:
        from sim.execution.storage import figures_folder, save_figure, write_json

        # the folder may be received: the figures folder is checked and each figure written
        # to a new file renamed into place, never through a symlink at its name
        figures = figures_folder(folder) if "prim" in result else None
        write_json(folder / "discovery.json", result)
        if figures is not None:
            drawn = [("discovery_tradeoff", tradeoff_figure(result))]
            if any(not _categorical(x[n]) for n in x.columns):  # pairs of numbers to draw
                drawn.append(("discovery_box", box_figure(result, x, y)))
            for name, fig in drawn:
                save_figure(fig, figures / f"{name}.png", "png")
    return result


def _lever_inputs(design: dict, runs: dict, folder: Path) -> dict:
    """``lever.<name>`` -> its column, for the levers of a sweep (``design.json``).

    A categorical lever's options are categories (PRIM restricts them to a subset, as the
    EMA Workbench does), a numeric lever's values numbers.
    """
    import pandas as pd

    out = {}
    levers = design.get("levers") or []
    if not isinstance(levers, list):
        raise UsageError(f"{folder}: the sweep's design.json lists no levers it can read")
    for lever in levers:
        try:
            name, kind = f"lever.{lever['name']}", lever["kind"]
        except (KeyError, TypeError):
            raise UsageError(f"{folder}: a lever of design.json has no name or kind") from None
        if name not in runs:
            raise UsageError(f"{folder}/sweep.parquet has no column {_shown(name)}")
        out[name] = (pd.Categorical(np.asarray(runs[name]).astype(str)) if kind == "categorical"
                     else np.asarray(runs[name], float))
    return out


def tradeoff_figure(result: dict):
    """PRIM's trade-off curve: density against coverage of each box on the trajectory.

    Coloured by the number of restricted parameters; the chosen box is ringed.
    """
    from matplotlib.figure import Figure

    prim = result["prim"]
    traj = prim["trajectory"]
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    cov = np.array([t["coverage"] for t in traj])
    den = np.array([t["density"] for t in traj])
    dims = np.array([t["restricted"] for t in traj])
    ax.plot(100 * cov, 100 * den, color="#999999", lw=0.8, zorder=1)
    dots = ax.scatter(100 * cov, 100 * den, c=dims, cmap="viridis", s=18, zorder=2)
    fig.colorbar(dots, ax=ax, label="restricted parameters", ticks=range(int(dims.max()) + 1))
    c = traj[prim["chosen"]]
    ax.scatter([100 * c["coverage"]], [100 * c["density"]], s=120, facecolors="none",
               edgecolors="#D55E00", lw=2, zorder=3, label=f"chosen box {c['box']}")
    ax.axhline(100 * result["base_rate"], color="grey", ls=":", lw=1,
               label=f"base rate {result['base_rate']:.0%}")
    ax.set_xlabel("coverage (% of the cases of interest inside the box)")
    ax.set_ylabel("density (% of runs in the box with it)")
    ax.set_title(f"PRIM peeling trajectory: {result['target']}")
    ax.legend(fontsize=8, loc="lower left")
    return fig


def box_figure(result: dict, x, y: np.ndarray):
    """The chosen box on pairs of parameters.

    Design points coloured by the share of their runs with the outcome, the box's limits
    drawn as a rectangle.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    prim = result["prim"]
    numeric = [n for n in x.columns if not _categorical(x[n])]
    names = [n for n in [b["parameter"] for b in prim["box"]] + prim["unrestricted"]
             if n in numeric]
    limits = {b["parameter"]: (b["low"], b["high"]) for b in prim["box"]
              if not b.get("categorical")}
    x = x[numeric]
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]][:6] or [
        (names[0], names[0])]
    cols = min(3, len(pairs))
    rows = -(-len(pairs) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.8 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    points = x.assign(_y=y.astype(float)).groupby(list(x.columns), as_index=False)["_y"].mean()
    for ax, (a, b) in zip(axes, pairs, strict=False):
        dots = ax.scatter(points[a], points[b], c=100 * points["_y"], cmap="cividis", vmin=0,
                          vmax=100, s=14)
        lo_a, hi_a = limits.get(a, (x[a].min(), x[a].max()))
        lo_b, hi_b = limits.get(b, (x[b].min(), x[b].max()))
        ax.add_patch(Rectangle((lo_a, lo_b), hi_a - lo_a, hi_b - lo_b, fill=False,
                               edgecolor="#D55E00", lw=2))
        ax.set_xlabel(a, fontsize=8)
        ax.set_ylabel(b, fontsize=8)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    fig.colorbar(dots, ax=list(axes[:len(pairs)]), label=f"P({result['target']}) at the "
                 "point (%)")
    c = prim["trajectory"][prim["chosen"]]
    fig.suptitle(f"PRIM box for {result['target']}: coverage {c['coverage']:.0%}, density "
                 f"{c['density']:.0%}", fontweight="bold")
    return fig


def format_discovery(result: dict) -> str:
    """The terminal summary of a discovery: the chosen box, its limits, the tree's best leaf."""
    lines = [f"target: {result['target']}  ({result['cases']} of {result['runs']} runs, base "
             f"rate {result['base_rate']:.1%})"]
    if "prim" not in result:
        return "\n".join([*lines, result["note"]])
    prim = result["prim"]
    c = prim["trajectory"][prim["chosen"]]
    lines.append(f"\nPRIM: {len(prim['trajectory'])} boxes on the peeling trajectory; chosen "
                 f"box {c['box']} (densest with coverage >= {prim['min_coverage']:.0%}):")
    lines.append(f"  coverage {c['coverage']:.1%}, density {c['density']:.1%} "
                 f"({c['runs']} runs, mass {c['mass']:.1%})")
    width = max([len(b["parameter"]) for b in prim["box"]] + [9])
    for b in prim["box"]:
        if b.get("categorical"):
            lines.append(f"  {b['parameter']:<{width}}  in {{{', '.join(b['values'])}}}   "
                         f"(options {', '.join(b['range_values'])}; quasi-p {_qp_text(b)})")
            continue
        lines.append(f"  {b['parameter']:<{width}}  {b['low']:.4g} .. {b['high']:.4g}   "
                     f"(swept {b['range_low']:.4g} .. {b['range_high']:.4g}; quasi-p "
                     f"{_qp_text(b)})")
    if prim["unrestricted"]:
        lines.append(f"  unrestricted: {', '.join(prim['unrestricted'])}")
    sig = prim["significant_box"]
    lines.append(f"  on its significant limits only: {box_rule(prim)}: coverage "
                 f"{sig['coverage']:.1%}, density {sig['density']:.1%} ({sig['runs']} runs)")
    lines.append("\ntrade-off (coverage, density) along the trajectory:")
    step = max(1, len(prim["trajectory"]) // 8)
    shown = prim["trajectory"][::step]
    if shown[-1] is not prim["trajectory"][-1]:
        shown.append(prim["trajectory"][-1])
    lines.append("  " + "  ".join(f"{t['box']}: {t['coverage']:.0%}/{t['density']:.0%}"
                                  for t in shown))
    leaf = result["cart"]["leaves"][0]
    rule = leaf_rule(leaf["limits"])
    lines.append(f"\nCART (depth {result['cart']['depth']}): densest leaf {rule}: density "
                 f"{leaf['density']:.1%}, coverage {leaf['coverage']:.1%} ({leaf['runs']} runs)")
    return "\n".join(lines)


def leaf_rule(limits: dict) -> str:
    """A CART leaf's limits as text: ``a <= 0.3 and b in (0.1, 0.2]``."""
    parts = []
    for name, b in limits.items():
        if "=" in name and (b["low"] is None) != (b["high"] is None):  # lever=option, 0/1
            lever, option = name.split("=", 1)
            parts.append(f"{lever} {'!=' if b['low'] is None else '=='} {option}")
        elif b["low"] is None:
            parts.append(f"{name} <= {b['high']:.4g}")
        elif b["high"] is None:
            parts.append(f"{name} > {b['low']:.4g}")
        else:
            parts.append(f"{name} in ({b['low']:.4g}, {b['high']:.4g}]")
    return " and ".join(parts) or "all runs"


def discovery_html(result: dict) -> str:
    """The report's section on a discovery (``sim report``): target, chosen box, CART leaf."""
    import html

    esc = html.escape
    parts = [f"<h2>Scenario discovery: {esc(str(result.get('target', '')))}</h2>"]
    parts.append(f"<p>{int(result.get('cases', 0))} of {int(result.get('runs', 0))} runs "
                 f"(base rate {float(result.get('base_rate', 0)):.1%}).</p>")
    if "prim" not in result:
        return "".join(parts) + f"<p>{esc(str(result.get('note', '')))}</p>"
    prim = result["prim"]
    c = prim["trajectory"][prim["chosen"]]
    parts.append(f"<p>PRIM (Bryant &amp; Lempert 2010), box {int(c['box'])} of "
                 f"{len(prim['trajectory'])} on the peeling trajectory: coverage "
                 f"{float(c['coverage']):.1%}, density {float(c['density']):.1%} (the "
                 "outcome's share of the runs inside the box).</p>")
    rows = "".join(
        f"<tr><td><code>{esc(str(b['parameter']))}</code></td><td class=num>"
        + (f"{esc(', '.join(map(str, b['values'])))}</td><td class=num>"
           f"{esc(', '.join(map(str, b['range_values'])))}" if b.get("categorical") else
           f"{float(b['low']):.4g} – {float(b['high']):.4g}</td><td class=num>"
           f"{float(b['range_low']):.4g} – {float(b['range_high']):.4g}")
        + f"</td><td class=num>{esc(_qp_text(b))}</td></tr>" for b in prim["box"])
    parts.append("<table><tr><th>parameter</th><th>box</th><th>swept</th><th>quasi-p of "
                 f"each moved limit</th></tr>{rows}</table>")
    sig = prim["significant_box"]
    parts.append(f"<p>On its significant limits only, <b>{esc(box_rule(prim))}</b>: coverage "
                 f"{float(sig['coverage']):.1%}, density {float(sig['density']):.1%} "
                 f"({int(sig['runs'])} runs).</p>")
    leaves = result.get("cart", {}).get("leaves", [])[:3]
    if leaves:
        items = "".join(f"<li>{esc(leaf_rule(leaf['limits']))}: density "
                        f"{float(leaf['density']):.1%}, coverage {float(leaf['coverage']):.1%}"
                        f" ({int(leaf['runs'])} runs)</li>" for leaf in leaves)
        parts.append(f"<p>CART tree, densest leaves:</p><ul>{items}</ul>")
    return "".join(parts)


def _qp_text(b: dict) -> str:
    """``low 1e-09, high 0.3 (not significant)``: the quasi-p of each limit PRIM moved."""
    if b.get("categorical"):
        qp = b["qp_low"]
        return "none" if qp is None else (
            f"{qp:.2g}" + ("" if b["significant"] else " (not significant)"))
    parts = []
    for side in ("low", "high"):
        qp = b[f"qp_{side}"]
        if qp is not None:
            flag = "" if b[f"{side}_significant"] else " (not significant)"
            parts.append(f"{side} {qp:.2g}{flag}")
    return ", ".join(parts) or "none"


def box_rule(prim: dict) -> str:
    """The chosen box on its significant limits as text: ``a >= 0.71 and b <= 0.39``."""
    parts = []
    for b in prim["box"]:
        if b.get("categorical"):
            if b["significant"]:
                parts.append(f"{b['parameter']} in {{{', '.join(map(str, b['values']))}}}")
        elif b["low_significant"] and b["high_significant"]:
            parts.append(f"{b['low']:.4g} <= {b['parameter']} <= {b['high']:.4g}")
        elif b["low_significant"]:
            parts.append(f"{b['parameter']} >= {b['low']:.4g}")
        elif b["high_significant"]:
            parts.append(f"{b['parameter']} <= {b['high']:.4g}")
    return " and ".join(parts) or "no significant limit"
