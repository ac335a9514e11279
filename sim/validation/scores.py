"""Proper scores of a saved ensemble against observations (``sim score``).

Events (binary outcomes) are scored with the Brier score and the logarithmic score, each
against the uninformed baseline p = 0.5 (Brier 0.25, log score ln 2) with a skill score
``1 - score / baseline`` (positive: better than the baseline). Quantities (indicator values)
are scored with the CRPS of the runs' empirical distribution, the PIT (where the observation
falls in that distribution) and whether it lies in the central 50% and 90% intervals, with
the interval score of each (Gneiting & Raftery 2007), as the VIEWS forecasting challenge does.
The day an event first happened is scored as a quantity: the runs' first-day distribution, in
which a run where it never happened counts as day ``horizon + 1``, against the observed day
(``horizon + 1`` when it did not happen within the run).

The scores themselves come from ``scoringrules`` (Zanetta & Allen 2024), a maintained library
whose estimators are tested against the R package scoringRules: nothing here re-derives them.

Choices (documented in docs/observations.md):

* The forecast probability of an event is the share of runs with the outcome. The log score
  uses ``(k + 0.5) / (n + 1)`` instead (the Krichevsky-Trofimov estimate), so an outcome seen
  in no run costs a finite ``log(2n + 2)`` rather than infinity: a finite ensemble cannot tell
  "never" from "rarer than 1 in n".
* An interval observation ``[low, high]`` is scored at its midpoint (CRPS, PIT, coverage); the
  share of runs inside the observed interval is reported beside it.
* The PIT of an observation equal to some runs' values is the mid-rank ``P(X < y) + P(X = y)
  / 2`` (a count indicator ties often).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import UsageError, not_found
from sim.validation.observations import Observations

UNINFORMED_P = 0.5
BRIER_UNINFORMED = 0.25
LOG_UNINFORMED = math.log(2.0)
#: reliability diagram bins (forecast probability)
BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)


# --------------------------------------------------------------------------- single scores


def brier(p: float, happened: bool) -> float:
    """Brier score of a probability for a binary outcome (Brier 1950)."""
    import scoringrules as sr

    return float(sr.brier_score(float(happened), float(p)))


def log_score(p: float, happened: bool) -> float:
    """Logarithmic (ignorance, natural log) score of a probability for a binary outcome."""
    import scoringrules as sr

    return float(sr.log_score(float(happened), float(p)))


def event_probability(count: int, runs: int) -> tuple[float, float]:
    """(share of runs, Krichevsky-Trofimov estimate used by the log score)."""
    return count / runs, (count + 0.5) / (runs + 1)


def skill(score: float, reference: float) -> float | None:
    """``1 - score / reference``: 1 perfect, 0 as good as the reference, negative worse."""
    return None if reference == 0 else 1.0 - score / reference


def crps(samples: np.ndarray, observed: float) -> float:
    """CRPS of an ensemble's empirical distribution at an observation (Matheson & Winkler)."""
    import scoringrules as sr

    samples = np.asarray(samples, float)
    return float(sr.crps_ensemble(float(observed), samples, estimator="nrg"))


def pit(samples: np.ndarray, observed: float) -> float:
    """Mid-rank probability integral transform: ``P(X < y) + P(X = y) / 2``."""
    samples = np.asarray(samples, float)
    below = np.count_nonzero(samples < observed)
    equal = np.count_nonzero(samples == observed)
    return float((below + 0.5 * equal) / samples.size)


def interval_score(samples: np.ndarray, observed: float, level: float) -> dict:
    """The central ``level`` interval of the runs, whether it covers, and its interval score."""
    import scoringrules as sr

    alpha = 1.0 - level
    low, high = np.quantile(np.asarray(samples, float), [alpha / 2, 1 - alpha / 2])
    score = float(sr.interval_score(float(observed), float(low), float(high), alpha))
    return {"low": float(low), "high": float(high),
            "covered": bool(low <= observed <= high), "score": score}


def quantity_scores(samples: np.ndarray, observed: float) -> dict:
    """CRPS, PIT, median and the 50% and 90% intervals of one quantity."""
    samples = np.asarray(samples, float)
    i50, i90 = interval_score(samples, observed, 0.5), interval_score(samples, observed, 0.9)
    return {"observed": float(observed), "median": float(np.median(samples)),
            "mean": float(samples.mean()), "crps": crps(samples, observed),
            "pit": pit(samples, observed), "interval50": i50, "interval90": i90,
            "covered50": i50["covered"], "covered90": i90["covered"]}


def day_samples(days: np.ndarray, horizon: int) -> np.ndarray:
    """First days with "never" (NaN) counted as ``horizon + 1``."""
    days = np.asarray(days, float)
    return np.where(np.isnan(days), horizon + 1.0, days)


# --------------------------------------------------------------------------- a whole run


@dataclass
class RunTable:
    """What scoring needs of a saved ensemble: its columns and its scenario's calendar."""

    columns: dict[str, np.ndarray]
    runs: int


def read_run(folder: Path) -> RunTable:
    """Read ``runs.parquet`` of a ``sim run`` results folder (untrusted: checked)."""
    from sim.execution.storage import read_runs

    table = Path(folder) / "runs.parquet"
    if not table.is_file():
        raise UsageError(f"{folder} holds no runs.parquet; score the folder a 'sim run' "
                         "wrote (a sweep or comparison mixes scenarios)")
    try:
        columns = read_runs(table)  # sizes checked before anything is decoded
    except UsageError:
        raise
    except Exception as exc:  # a damaged or foreign file: one line, not a traceback
        raise UsageError(f"{table}: cannot read it as a runs table ({exc})") from None
    runs = len(columns.get("run", []))
    if runs == 0:
        raise UsageError(f"{table}: no runs in it")
    return RunTable(columns=columns, runs=runs)


def _in_split(obs: Observations, kind: str, item) -> str:
    """'calibration' (known by the cutoff) or 'held_out' (after it); 'all' without a cutoff."""
    cutoff = obs.spec.cutoff
    if cutoff is None:
        return "all"
    if kind == "event":
        return "calibration" if item.happened and item.date and item.date <= cutoff else \
            "held_out"
    return "calibration" if item.window and item.window[1] <= cutoff else "held_out"


def score_columns(obs: Observations, columns: dict[str, np.ndarray]) -> dict:
    """Score every observation against the runs' columns; return the ``score.json`` content."""
    runs = len(next(iter(columns.values())))
    horizon = obs.days
    events, quantities, days, unscored = [], [], [], []
    for i, ev in enumerate(obs.spec.events):
        source = obs.sources[("events", i)].text
        flags = np.asarray(columns[f"outcome.{ev.outcome}"], bool)
        count = int(flags.sum())
        p, p_log = event_probability(count, runs)
        b, ls = brier(p, ev.happened), log_score(p_log, ev.happened)
        events.append({
            "outcome": ev.outcome, "happened": ev.happened, "probability": p, "runs": runs,
            "count": count, "brier": b, "log_score": ls,
            "brier_uninformed": BRIER_UNINFORMED, "log_uninformed": LOG_UNINFORMED,
            "brier_skill": skill(b, BRIER_UNINFORMED), "log_skill": skill(ls, LOG_UNINFORMED),
            "split": _in_split(obs, "event", ev), "source": source})
        day_col = obs.day_indicators.get(i)
        if ev.happened and ev.date is None:
            continue  # happened, day unknown: nothing to score as a day
        if day_col is None:
            if ev.date is not None:
                hints = obs.day_candidates.get(i, [])
                why = ("its date, since the outcome's condition records no first day (the "
                       "event is scored as happened or not); to score the date too, name the "
                       f"day column it means with day_indicator: ({' or '.join(hints)})"
                       if hints else "no day column records when the outcome's "
                       "condition first held (a threshold, a final value or a combination), "
                       "so the date cannot be scored; the event is scored as happened or not")
                unscored.append({"outcome": ev.outcome, "why": why})
            continue
        observed = obs.day_of(ev.date) if ev.happened else horizon + 1
        sample = day_samples(columns[day_col], horizon)
        row = {"outcome": ev.outcome, "indicator": day_col, "observed_day": observed,
               "observed_date": str(ev.date) if ev.date else None, "never_day": horizon + 1,
               "share_never": float(np.isnan(np.asarray(columns[day_col], float)).mean()),
               **quantity_scores(sample, observed), "split": _in_split(obs, "event", ev),
               "source": source}
        days.append(row)
    for i, q in enumerate(obs.spec.quantities):
        values = np.asarray(columns[q.indicator], float)
        if q.indicator.startswith("day."):
            values = day_samples(values, horizon)
        elif np.isnan(values).any():
            values = values[~np.isnan(values)]
            if values.size == 0:
                unscored.append({"indicator": q.indicator, "why": "no run has a value"})
                continue
        row = {"indicator": q.indicator, **quantity_scores(values, q.observed),
               "interval": list(q.interval) if q.interval else None,
               "window": [str(d) for d in q.window] if q.window else None,
               "split": _in_split(obs, "quantity", q),
               "source": obs.sources[("quantities", i)].text}
        if q.interval is not None:
            low, high = q.interval
            row["share_in_observed_interval"] = float(((values >= low) & (values <= high))
                                                      .mean())
        quantities.append(row)
    result = {"observations": str(obs.path), "scenario": obs.scenario.spec.name,
              "start": str(obs.start), "days": horizon, "runs": runs,
              "cutoff": str(obs.spec.cutoff) if obs.spec.cutoff else None,
              "events": events, "days_of_events": days, "quantities": quantities,
              "unscored": unscored, "summary": summarise(events, days, quantities)}
    if obs.spec.cutoff is not None:
        held = [r for r in events if r["split"] == "held_out"]
        result["summary_held_out"] = summarise(
            held, [r for r in days if r["split"] == "held_out"],
            [r for r in quantities if r["split"] == "held_out"])
    return result


def summarise(events: list[dict], days: list[dict], quantities: list[dict]) -> dict:
    """Means over observations: Brier, log score, their skill, CRPS of days, coverage."""
    out: dict = {"events": len(events), "quantities": len(quantities), "days": len(days)}
    if events:
        b = float(np.mean([r["brier"] for r in events]))
        ls = float(np.mean([r["log_score"] for r in events]))
        out.update(brier=b, log_score=ls, brier_skill=skill(b, BRIER_UNINFORMED),
                   log_skill=skill(ls, LOG_UNINFORMED))
    scored = quantities + days
    if scored:
        out["coverage50"] = float(np.mean([r["covered50"] for r in scored]))
        out["coverage90"] = float(np.mean([r["covered90"] for r in scored]))
        out["mean_pit"] = float(np.mean([r["pit"] for r in scored]))
    if days:
        out["crps_days"] = float(np.mean([r["crps"] for r in days]))
    return out


def reliability(events: list[dict]) -> list[dict]:
    """Forecast probability bins: mean forecast, observed frequency and count per bin."""
    rows = []
    for low, high in itertools.pairwise(BINS):
        inside = [r for r in events if low <= r["probability"] < high
                  or (high == 1.0 and r["probability"] == 1.0)]
        if inside:
            rows.append({"low": low, "high": high, "count": len(inside),
                         "forecast": float(np.mean([r["probability"] for r in inside])),
                         "observed": float(np.mean([r["happened"] for r in inside]))})
    return rows


def score_run(folder: Path, observations: Path) -> dict:
    """Score the ensemble saved in ``folder`` against an observations file; write score.json.

    The observations are cross-checked against the scenario exactly as run (the folder's
    ``scenario.resolved.yaml``), so a run of another scenario is refused with the names that
    do not match.
    """
    from sim.execution.storage import write_json
    from sim.scenario.loader import load_scenario
    from sim.validation.observations import load_observations

    folder = Path(folder)
    resolved = folder / "scenario.resolved.yaml"
    if not resolved.is_file():
        raise UsageError(f"{folder} holds no scenario.resolved.yaml; score a folder written "
                         "by 'sim run'")
    if not Path(observations).is_file():
        raise UsageError(f"{observations}: {not_found(observations)}")
    scenario = load_scenario(resolved)
    _check_same_scenario(folder, scenario, Path(observations))
    obs = load_observations(observations, scenario)
    table = read_run(folder)
    missing = [f"outcome.{e.outcome}" for e in obs.spec.events
               if f"outcome.{e.outcome}" not in table.columns]
    missing += [q.indicator for q in obs.spec.quantities if q.indicator not in table.columns]
    missing += [c for c in obs.day_indicators.values() if c and c not in table.columns]
    if missing:
        raise UsageError(f"{folder}/runs.parquet lacks {', '.join(sorted(set(missing)))}; "
                         "was it written by this scenario?")
    result = score_columns(obs, table.columns)
    result["run_folder"] = str(folder)
    result["reliability"] = reliability(result["events"])
    result["created"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:  # what is written is valid JSON: a NaN or infinity is a damaged input, not a score
        json.dumps(result, allow_nan=False, default=str)
    except ValueError:
        raise UsageError(f"{folder}/runs.parquet holds values that give no finite score "
                         "(infinite or missing numbers); run the scenario again into a new "
                         "--out") from None
    write_json(folder / "score.json", result)
    return result


def _check_same_scenario(folder: Path, scenario, observations: Path) -> None:
    """Refuse observations of another scenario than the one the folder's runs are of.

    The observations name their scenario (``scenario:``, relative to their file); a run of
    another scenario whose outcome names happen to match would otherwise be scored without
    a word. The two are compared by the scenario's ``name``.
    """
    from sim.errors import ScenarioError
    from sim.scenario.loader import load_scenario
    from sim.validation.observations import read_observations

    spec, _, _ = read_observations(observations)
    named = observations.parent / spec.scenario
    try:
        theirs = load_scenario(named).spec.name if named.is_file() else None
    except ScenarioError:
        theirs = None
    if theirs is None:
        raise UsageError(f"{observations}: its scenario '{spec.scenario[:100]}' is not found "
                         f"(or does not load) beside it; the run in {folder} cannot be checked "
                         "to be of it: keep the observations beside their scenario")
    if theirs != scenario.spec.name:
        raise UsageError(f"{observations} are of the scenario '{theirs[:80]}' "
                         f"({spec.scenario[:100]}), but {folder} holds runs of "
                         f"'{scenario.spec.name[:80]}'; score a run of their scenario")


def format_score(result: dict) -> str:
    """The terminal summary of a score: events, days and quantities, then the means."""
    lines = [f"{result['scenario']}: {result['runs']} runs scored against "
             f"{result['observations']}", ""]
    if result["events"]:
        width = max(len(r["outcome"]) for r in result["events"])
        lines.append(f"{'event':<{width}}  happened      P   Brier  log score")
        for r in result["events"]:
            lines.append(f"{r['outcome']:<{width}}  {'yes' if r['happened'] else 'no ':>8}  "
                         f"{r['probability']:5.1%}  {r['brier']:6.3f}  {r['log_score']:9.3f}")
        lines.append("")
    rows = [(f"day of {r['outcome']}", r) for r in result["days_of_events"]]
    rows += [(r["indicator"], r) for r in result["quantities"]]
    if rows:
        width = max(len(n) for n, _ in rows)
        lines.append(f"{'quantity':<{width}}  {'observed':>9}  {'median':>9}  {'CRPS':>9}  "
                     f"{'PIT':>5}  in 50%  in 90%")
        def never(x: float, r: dict) -> bool:  # a day after the run: "never", as sim report
            return r.get("never_day") is not None and x >= r["never_day"]

        for name, r in rows:
            observed, median = (f"{'never':>9}" if never(r[k], r) else f"{r[k]:9.4g}"
                                for k in ("observed", "median"))
            lines.append(f"{name:<{width}}  {observed}  {median}  "
                         f"{r['crps']:9.4g}  {r['pit']:5.2f}  "
                         f"{'yes' if r['covered50'] else 'no':>6}  "
                         f"{'yes' if r['covered90'] else 'no':>6}")
        if any(never(r[k], r) for _, r in rows for k in ("observed", "median")):
            lines.append("('never': not within the days simulated; scored as the day after "
                         "the last)")
        lines.append("")
    s = result["summary"]
    if "brier" in s:
        lines.append(f"mean Brier {s['brier']:.3f} (uninformed {BRIER_UNINFORMED:.3f}, skill "
                     f"{s['brier_skill']:+.2f}); mean log score {s['log_score']:.3f} "
                     f"(uninformed {LOG_UNINFORMED:.3f}, skill {s['log_skill']:+.2f})")
    if "coverage90" in s:
        lines.append(f"coverage: {s['coverage50']:.0%} in the 50% intervals, "
                     f"{s['coverage90']:.0%} in the 90% intervals "
                     f"({s['quantities'] + s['days']} quantities and days)")
    for u in result["unscored"]:
        lines.append(f"not scored: {u.get('outcome') or u.get('indicator')}: {u['why']}")
    return "\n".join(lines)
