"""Ensemble statistics: outcome probabilities with intervals, indicator quantiles.

Functions take columns (numpy arrays) and return plain data, so they serve the CLI, the
summary file, tests and plots alike.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927).

    Preferred to the normal approximation because it stays inside [0, 1] and keeps its
    coverage for probabilities near 0 or 1, which outcome classes often are.
    """
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at 0 or n successes a bound is exactly 0 or 1; computed, it is off by a rounding error
    # (5.6e-17 at 0/3), which put the interval's low end above the estimate
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def outcome_table(columns: dict[str, np.ndarray]) -> list[dict]:
    """Probability and 95% interval of every ``outcome.*`` column."""
    rows = []
    for name, values in columns.items():
        if not name.startswith("outcome."):
            continue
        flags = np.asarray(values, dtype=bool)
        k, n = int(flags.sum()), int(flags.size)
        low, high = wilson_interval(k, n)
        rows.append({"outcome": name.removeprefix("outcome."), "probability": k / n if n else
                     float("nan"), "low": low, "high": high, "count": k, "runs": n})
    return rows


def indicator_summary(columns: dict[str, np.ndarray]) -> list[dict]:
    """Mean and quantiles of every indicator; for ``day.*`` also the share that never happened."""
    rows = []
    for name, values in columns.items():
        if name == "run" or name.startswith("outcome."):
            continue
        x = np.asarray(values, dtype=float)
        seen = x[~np.isnan(x)]
        row = {"indicator": name, "runs": int(x.size), "missing": int(x.size - seen.size)}
        if seen.size:
            qs = np.quantile(seen, QUANTILES)
            row.update({"mean": float(seen.mean())}
                       | {f"q{int(q * 100):02d}": float(v) for q, v in zip(QUANTILES, qs,
                                                                            strict=True)})
        rows.append(row)
    return rows


def paired_difference(a: np.ndarray, b: np.ndarray, z: float = Z95) -> tuple[float, float, float]:
    """Mean of ``b - a`` over paired runs and its normal 95% interval (common random numbers)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    d = d[~np.isnan(d)]
    mean = float(d.mean())
    half = z * float(d.std(ddof=1)) / math.sqrt(d.size) if d.size > 1 else float("inf")
    return mean, mean - half, mean + half


def format_outcomes(rows: list[dict]) -> str:
    """A plain-text table of outcome probabilities."""
    width = max([len(r["outcome"]) for r in rows] + [7])
    lines = [f"{'outcome':<{width}}  {'P':>6}  {'95% interval':>15}  {'runs':>7}"]
    for r in rows:
        lines.append(f"{r['outcome']:<{width}}  {r['probability']:6.1%}  "
                     f"[{r['low']:5.1%}, {r['high']:5.1%}]  {r['count']:>7}")
    return "\n".join(lines)


def format_indicators(rows: list[dict], names: list[str] | None = None) -> str:
    """A plain-text table of indicator quantiles (5%, median, 95%), optionally a selection."""
    chosen = [r for r in rows if names is None or r["indicator"] in names]
    width = max([len(r["indicator"]) for r in chosen] + [9])
    lines = [f"{'indicator':<{width}}  {'5%':>11}  {'median':>11}  {'95%':>11}  {'never':>6}"]
    for r in chosen:
        if "q50" not in r:
            lines.append(f"{r['indicator']:<{width}}  {'':>11}  {'':>11}  {'':>11}  "
                         f"{r['missing'] / r['runs']:6.1%}")
            continue
        never = f"{r['missing'] / r['runs']:6.1%}" if r["indicator"].startswith("day.") else ""
        lines.append(f"{r['indicator']:<{width}}  {_num(r['q05']):>11}  {_num(r['q50']):>11}  "
                     f"{_num(r['q95']):>11}  {never:>6}")
    return "\n".join(lines)


def _num(x: float) -> str:
    """A quantile as printed.

    Thousands grouped from 1,000; whole numbers and anything from 100 without decimals;
    shares below 1 to three decimals; the rest to four significant digits (a day's
    interpolated quantile 6.95, not 6.950).
    """
    if abs(x) >= 1_000:
        return f"{x:,.0f}"
    if abs(x) >= 100 or float(x).is_integer():
        return f"{x:.0f}"
    if abs(x) < 1:
        return f"{x:.3f}"
    return f"{x:.4g}"


def degeneracy(outcomes: list[dict], indicators: list[dict]) -> dict[str, list[str]]:
    """What a scenario cannot produce: outcomes at 0% or 100%, indicators that never vary.

    Args:
        outcomes: ``outcome_table`` rows.
        indicators: ``indicator_summary`` rows.

    Returns:
        ``{"never": outcomes in no run, "always": outcomes in every run, "constant":
        indicators with one value in every run (a ``day.*`` that never happened included)}``.
        A scenario author reads it as the list of things the scenario, as written, cannot
        vary: a lever that is never pulled, a state that is fixed from day 0.
    """
    never = [r["outcome"] for r in outcomes if r["runs"] and r["count"] == 0]
    always = [r["outcome"] for r in outcomes if r["runs"] and r["count"] == r["runs"]]
    constant = []
    for r in indicators:
        if r["missing"] == r["runs"]:
            constant.append(r["indicator"])
        elif r["missing"] == 0 and "q05" in r:
            values = [r[k] for k in ("q05", "q25", "q50", "q75", "q95")]
            if all(math.isclose(v, r["mean"], rel_tol=1e-12, abs_tol=1e-12) for v in values):
                constant.append(r["indicator"])
    return {"never": never, "always": always, "constant": constant}


def format_degeneracy(found: dict[str, list[str]], indicators: int) -> str:
    """Two or three lines for ``sim run``: outcomes at 0% / 100%, how many indicators are fixed."""
    lines = []
    if found["never"]:
        lines.append(f"outcomes in no run (0%): {', '.join(found['never'])}")
    if found["always"]:
        lines.append(f"outcomes in every run (100%): {', '.join(found['always'])}")
    if found["constant"]:
        lines.append(f"{len(found['constant'])} of {indicators} indicators never vary "
                     "(listed by 'sim report')")
    return "\n".join(lines)


def prior_text(prior: object) -> str:
    """A drawn value's prior as words, not its dict in Python's form.

    The dict is a ``Prior``'s ``model_dump(exclude_none=True)``, as the manifest records it;
    ``sim report`` and ``sim check --assumptions`` show it so:
    "uniform 0.07 to 0.13", "lognormal, median 60, sigma 0.5, within 20 to 180".
    """
    if not isinstance(prior, dict) or not isinstance(prior.get("dist"), str):
        return str(prior)
    low, high = prior.get("low"), prior.get("high")
    if prior["dist"] == "uniform" and low is not None and high is not None:
        return f"uniform {low:g} to {high:g}" if all(
            isinstance(x, int | float) for x in (low, high)) else str(prior)
    shape = [f"{k} {v:g}" for k, v in prior.items() if k not in ("dist", "low", "high")
             and isinstance(v, int | float) and v is not None]
    within = (f"within {low:g} to {high:g}" if isinstance(low, int | float)
              and isinstance(high, int | float) else "")
    return ", ".join([prior["dist"], *shape, *([within] if within else [])])


def plural(n: int, one: str, many: str) -> str:
    """``1 parameter``, ``2 parameters``: a count with its noun (sim report, the CLI)."""
    return f"{n} {one if n == 1 else many}"
