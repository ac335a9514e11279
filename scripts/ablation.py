"""Ablation study of the model's mechanisms on the whole library (issue 22 follow-up).

Why: a mechanism earns its place by the patterns it produces and by skill on the whole
library, never by one crisis. Model v3 raised skill on the 7 original crises and lowered it on
the 8 newer ones; this script measures what each mechanism contributes on all 15 by switching
it off, one at a time, on every crisis at once, and scoring the library as ``sim validate``
does, with the same seed for every variant (common random numbers: a difference between two
variants is the mechanism's effect plus a small paired noise, not two independent draws).

How a mechanism is switched off:

* by a scenario override, applied to every crisis as ``--set`` applies it (the scenario files
  are never edited: the override is applied to the loaded scenario in memory, and the run's
  ``scenario.resolved.yaml`` records it): an incident rate of 0, reciprocity 0, entrapment 0,
  upkeep 0, talks 0, nesting 1 (the plain logit), no ``to_rung`` on any attack entry
  (offensives become ordinary attacks), every gate's surge ``release`` 0, sanctions reviewed
  every day (``decisions.sanction_review`` 1: the closest the schema has to "sanctions as
  toggles"; a sanction stays a state), ``decisions.compellence`` 0, ``decisions.commitment``
  0, ``decisions.intent`` false (model v2's rules), ``ladder.persistence`` 0 (no build-up of
  acts short of force) and every red line's ``stakes`` 0. Gates valued over the network (#23,
  ``refugees.gate_reach``) have no switch and no older rule to return to in this code: not
  ablated.

Two more variants are not single ablations: ``all_off`` (every switch at once: model v3 and
#23 as far as they can be switched off) and ``random_choice`` (a reachability probe: every
actor's ``rationality`` 0, so an event still at 0 or 1 is held there by the rules and the
scenario's structure, not by the choices). (The study of notes_ablation.md ran before the three
v3 rules had switches, patching them in its own process, and also measured a candidate rule,
compellence through the target's acceptance only, which is now the model's.) ``--before DIR``
adds a row for a
``sim validate`` output of another commit and, with ``--events``, its probabilities event by
event. The study and its reading: ``scenarios/library/notes_ablation.md``.

Each variant is one ``sim validate --point`` (``sim.validation.library.validate_library``) of
the whole library, run in its own process, one at a time, into ``OUT/<variant>/``; a variant
whose ``skill.json`` is there is not run again (the study resumes). ``OUT/ablation.md`` and
``OUT/ablation.json`` then hold, per variant: the overall Brier and log score (all crises, the
7 original, the 8 newer), the change against everything on with two intervals (a crisis
bootstrap of the paired difference, 2000 draws: how much the conclusion rests on which crises
are in the library; and the Monte Carlo standard error of the difference from a paired
bootstrap of the runs: how much is simulation noise), and each crisis's Brier change; and the
events forecast at exactly 0 or 1 with everything on, and which variants move them.

Usage (from the repository root; ``--runs 200 --seed 1`` are the study's settings)::

    PYTHONPATH=$PWD python scripts/ablation.py --runs 200 --seed 1 --out /tmp/ablation
    PYTHONPATH=$PWD python scripts/ablation.py --only base,incidents --out /tmp/ablation
    PYTHONPATH=$PWD python scripts/ablation.py --table-only --out /tmp/ablation
    PYTHONPATH=$PWD python scripts/ablation.py --list
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The crises of the library before model v3's second library pass (issue 24 item 1): the
#: first seven; the others are the eight added after them.
ORIGINAL = ("idlib_2020", "balakot_2019", "doklam_2017", "evros_2020", "georgia_2008",
            "kosovo_1999", "nagorno_karabakh_2020")

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Variant:
    """One way of running the library: everything on, or one mechanism off."""

    name: str
    mechanism: str
    how: str
    settings: tuple[str, ...] = ()  # PATH=VALUE overrides, the same for every crisis
    per_scenario: str | None = None  # name of a function of the scenario giving overrides
    per_scenario_all: bool = False  # every per-scenario switch at once (the all-off variant)


VARIANTS: tuple[Variant, ...] = (
    Variant("base", "everything on", "the library as it is"),
    Variant("incidents", "incidents nobody chose (M3)", "ladder.incident_rate=0",
            ("ladder.incident_rate=0",)),
    Variant("reciprocity", "answers to attacks, and their price in deals (M5, M6)",
            "decisions.reciprocity=0", ("decisions.reciprocity=0",)),
    Variant("compellence", "compellence: attacks scored by their effect on deals (M1)",
            "decisions.compellence=0", ("decisions.compellence=0",)),
    Variant("offensives", "offensives that jump to their rung (attack to_rung)",
            "every attack entry's to_rung removed (an ordinary attack)",
            per_scenario="no_offensives"),
    Variant("commitment", "the commitment problem (M6)",
            "decisions.commitment=0", ("decisions.commitment=0",)),
    Variant("entrapment", "patrons' entrapment (M1 grant_support)", "decisions.entrapment=0",
            ("decisions.entrapment=0",)),
    Variant("intent", "intent for one-off acts (M1)",
            "decisions.intent=false (a daily lottery)", ("decisions.intent=false",)),
    Variant("opening_fire", "opening fire decided with intent (M1)",
            "decisions.opening_fire=false (a daily lottery)", ("decisions.opening_fire=false",)),
    Variant("front", "a front's advance (M4 fighting.advance)",
            "fighting.advance=holdings (a share of the holder's ground a day, model v2)",
            ("fighting.advance=holdings",)),
    Variant("private_value", "one-off acts' private value (M1)",
            "decisions.private_value=0 (the logit's own spread only)",
            ("decisions.private_value=0",)),
    Variant("nesting", "nested logit within a track (M1)", "decisions.nesting=1 (plain logit)",
            ("decisions.nesting=1",)),
    Variant("upkeep", "costly standoffs (M6 upkeep)", "ladder.upkeep=0", ("ladder.upkeep=0",)),
    Variant("talks", "talks take time (M6)", "bargaining.talks=0", ("bargaining.talks=0",)),
    Variant("surges", "surges across an opened gate (#23, M7)",
            "refugees.gates.<g>.release=0 for every gate", per_scenario="no_surges"),
    Variant("sanction_review", "sanctions lifted only on review days (#23, M1)",
            "decisions.sanction_review=1 (reviewed daily; sanctions stay states)",
            ("decisions.sanction_review=1",)),
    Variant("persistence", "escalation short of force builds up (M3)", "ladder.persistence=0",
            ("ladder.persistence=0",)),
    Variant("red_lines", "red lines' audience costs (M5)", "every red line's stakes=0",
            per_scenario="no_red_lines"),
)
#: Not ablations: the private value's default (1, a judgement tied to bargaining.noise, not
#: fitted) halved and doubled, to show how much the library's skill rests on that judgement;
#: and the exchange rate of ground (``decisions.territory_unit``) raised 2.5 and 5 times.
SENSITIVITY = (
    Variant("private_half", "sensitivity: one-off acts' private value halved",
            "decisions.private_value=0.5", ("decisions.private_value=0.5",)),
    Variant("private_double", "sensitivity: one-off acts' private value doubled",
            "decisions.private_value=2", ("decisions.private_value=2",)),
    # the exchange rate of ground against everything else (0.02 in every crisis, copied from
    # the baseline): a deal that hands over a whole objective weighs 1 / 0.02 = 50 units
    # against a rung-severity step of 1 and daily war costs of a few hundredths
    Variant("territory_x2_5", "sensitivity: decisions.territory_unit 0.05 (x2.5)",
            "decisions.territory_unit=0.05", ("decisions.territory_unit=0.05",)),
    Variant("territory_x5", "sensitivity: decisions.territory_unit 0.1 (x5)",
            "decisions.territory_unit=0.1", ("decisions.territory_unit=0.1",)),
    # losses weighed ten times lighter (per 1,000 troops in contact where troops are declared;
    # first run as a probe before that rule existed: notes_ablation.md, sixth session)
    Variant("loss_unit_x10", "sensitivity: decisions.loss_unit 100 (x10)",
            "decisions.loss_unit=100", ("decisions.loss_unit=100",)),
)
#: Every switch above at once: model v3 and #23 as far as they can be switched off.
ALL_OFF = Variant(
    "all_off", "every switch above at once", "all the overrides above together",
    tuple(s for v in VARIANTS for s in v.settings), per_scenario_all=True)
#: Not an ablation: a probe of reachability. Every actor chooses at random (rationality 0:
#: a coin toss among its entries, one-off acts on the menu half the days), so an event still
#: at 0 or 1 is held there by the rules and the scenario's structure, not by the choices.
RANDOM_CHOICE = Variant(
    "random_choice", "probe: every actor chooses at random",
    "actors.<a>.rationality=0 for every actor (not a mechanism: a reachability probe)",
    per_scenario="random_choice")
VARIANTS = (*VARIANTS, ALL_OFF, RANDOM_CHOICE, *SENSITIVITY)
BY_NAME = {v.name: v for v in VARIANTS}


# --------------------------------------------------------------------------- switching off


def no_offensives(scenario) -> list[str]:
    """Overrides removing ``to_rung`` from every attack entry of the scenario."""
    out = []
    for actor, spec in scenario.spec.actors.items():
        for i, act in enumerate(spec.actions):
            if act.verb == "attack" and act.to_rung is not None:
                out.append(f"actors.{actor}.actions[{i}].to_rung=null")
    return out


def no_surges(scenario) -> list[str]:
    """Overrides setting every gate's surge ``release`` to 0."""
    gates = scenario.spec.refugees.gates if scenario.spec.refugees else {}
    return [f"refugees.gates.{g}.release=0" for g in gates]


def no_red_lines(scenario) -> list[str]:
    """Overrides setting every red line's stakes to 0 (a line nobody minds crossing)."""
    return [f"red_lines.{x}.stakes=0" for x in scenario.spec.red_lines]


def random_choice(scenario) -> list[str]:
    """Overrides giving every actor a logit precision of 0 (the reachability probe)."""
    return [f"actors.{a}.rationality=0" for a in scenario.spec.actors]


def overrides_for(variant: Variant, scenario) -> list[str]:
    """The ``--set`` overrides that switch ``variant``'s mechanism off in ``scenario``."""
    out = list(variant.settings)
    makers = ([v.per_scenario for v in VARIANTS
               if v.per_scenario and v.per_scenario != "random_choice"]
              if variant.per_scenario_all else [variant.per_scenario] if variant.per_scenario
              else [])
    for maker in makers:
        out += globals()[maker](scenario)
    return out


def run_variant(variant: Variant, library: Path, out: Path, runs: int, seed: int,
                workers: int | None) -> None:
    """``sim validate --point`` of the whole library with ``variant``'s mechanism off."""
    import sim.validation.observations as observations
    from sim.scenario.loader import load_scenario
    from sim.validation.library import validate_library

    original = observations.load_observations
    applied: dict[str, list[str]] = {}

    def load_with_overrides(path, scenario=None):
        if scenario is None:  # validate's first load: the scenario the file names
            plain = original(path)
            sets = overrides_for(variant, plain.scenario)
            applied[Path(path).name] = sets
            if not sets:
                return plain
            scenario = load_scenario(plain.scenario.path, sets)
        return original(path, scenario)

    observations.load_observations = load_with_overrides
    validate_library(library, runs=runs, seed=seed, out_dir=out, workers=workers,
                     progress=False, point=True)
    (out / "overrides.json").write_text(json.dumps(
        {"variant": variant.name, "overrides": applied},
        indent=1))


# --------------------------------------------------------------------------- the table


def load_variant(folder: Path) -> dict:
    """Per crisis: outcome names, happened flags, probabilities and the runs' 0/1 matrix."""
    from sim.validation.scores import read_run

    skill = json.loads((folder / "skill.json").read_text())
    crises = {}
    for c in skill["crises"]:
        events = json.loads((folder / c["crisis"] / "score.json").read_text())["events"]
        table = read_run(folder / c["crisis"])
        flags = np.column_stack([np.asarray(table.columns[f"outcome.{e['outcome']}"], bool)
                                 for e in events])
        crises[c["crisis"]] = {
            "outcomes": [e["outcome"] for e in events],
            "happened": np.array([e["happened"] for e in events], bool),
            "p": np.array([e["probability"] for e in events]),
            "log": np.array([e["log_score"] for e in events]),
            "flags": flags, "runs": int(c["runs"])}
    return crises


def _brier(p, y):
    return (p - y) ** 2


def _log(count, runs, y):
    """``sim score``'s log score: the Krichevsky-Trofimov estimate keeps 0 and 1 finite."""
    q = (count + 0.5) / (runs + 1)
    return -np.log(np.where(y, q, 1.0 - q))


def _scores(crises: dict, names) -> tuple[float, float]:
    """Event-weighted Brier and log score over the named crises."""
    b = np.concatenate([_brier(crises[n]["p"], crises[n]["happened"]) for n in names])
    ls = np.concatenate([crises[n]["log"] for n in names])
    return float(b.mean()), float(ls.mean())


def auc(crises: dict, names) -> float:
    """Discrimination (AUC) over the named crises' events.

    The chance that an event that happened got a higher probability than one that did not
    (ties count half; Mann-Whitney). A mechanism that only pushes every forecast toward "it
    happens" moves the Brier score with the library's base rate (two thirds of its events
    happened) without moving this.
    """
    p = np.concatenate([crises[n]["p"] for n in names])
    y = np.concatenate([crises[n]["happened"] for n in names])
    pos, neg = p[y], p[~y]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def crisis_bootstrap(diff_sum: np.ndarray, n_events: np.ndarray, draws: int = 2000,
                     seed: int = 20240624) -> tuple[float, float]:
    """95% interval of an event-weighted mean difference, resampling crises."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff_sum.size, size=(draws, diff_sum.size))
    means = diff_sum[idx].sum(axis=1) / n_events[idx].sum(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def run_bootstrap_se(base: dict, var: dict, names, draws: int = 400,
                     seed: int = 7) -> tuple[float, float]:
    """Monte Carlo SE of the overall Brier and log differences: the runs resampled, paired.

    The same resampled run indices serve both variants (run k of one is run k of the other
    under common random numbers), so this is the noise of the paired difference.
    """
    rng = np.random.default_rng(seed)
    total = sum(base[n]["flags"].shape[1] for n in names)
    db = np.zeros(draws)
    dl = np.zeros(draws)
    for n in names:
        fb, fv, y = base[n]["flags"], var[n]["flags"], base[n]["happened"]
        runs = fb.shape[0]
        idx = rng.integers(0, runs, size=(draws, runs))
        cb = fb[idx].sum(axis=1)  # (draws, events) counts
        cv = fv[idx].sum(axis=1)
        db += (_brier(cv / runs, y) - _brier(cb / runs, y)).sum(axis=1)
        dl += (_log(cv, runs, y) - _log(cb, runs, y)).sum(axis=1)
    return float((db / total).std(ddof=1)), float((dl / total).std(ddof=1))


def load_before(folder: Path) -> dict:
    """Event probabilities of another ``sim validate`` output (an older commit's), by crisis."""
    out = {}
    for score in sorted(Path(folder).glob("*/score.json")):
        events = json.loads(score.read_text())["events"]
        out[score.parent.name] = {e["outcome"]: (e["probability"], e["happened"], e["log_score"])
                                  for e in events}
    return out


def event_tables(result: dict, data: dict, crises: list[str]) -> list[dict]:
    """Per event of the named crises: p before, with everything on, and with each switch off."""
    rows = []
    before = result.get("before", {})
    for n in crises:
        base = data["base"][n]
        for k, o in enumerate(base["outcomes"]):
            rows.append({
                "crisis": n, "outcome": o, "happened": bool(base["happened"][k]),
                "p_before": before.get(n, {}).get(o, (None,))[0],
                "p_base": float(base["p"][k]),
                "off": {v: float(data[v][n]["p"][k]) for v in data if v != "base"}})
    return rows


def build_table(out: Path, events: tuple[str, ...] = (), before: Path | None = None) -> dict:
    """Read every finished variant under ``out`` and write ``ablation.md`` and ``.json``.

    ``before``: a ``sim validate`` output of another commit (an older model), shown as a row
    and, for the crises named in ``events``, event by event beside each variant.
    """
    done = [v for v in VARIANTS if (out / v.name / "skill.json").is_file()]
    if not done or done[0].name != "base":
        raise SystemExit(f"{out}: the 'base' variant is not finished; nothing to compare")
    data = {v.name: load_variant(out / v.name) for v in done}
    base = data["base"]
    names = list(base)
    newer = [n for n in names if n not in ORIGINAL]
    original = [n for n in names if n in ORIGINAL]
    groups = {"all": names, "original": original, "newer": newer}
    result: dict = {"crises": names, "original": original, "newer": newer, "variants": {},
                    "base_brier": {n: _scores(base, [n])[0] for n in names}}
    for v in done:
        var = data[v.name]
        row: dict = {"mechanism": v.mechanism, "how": v.how}
        for g, members in groups.items():
            b, ls = _scores(var, members)
            b0, l0 = _scores(base, members)
            p_all = np.concatenate([var[n]["p"] for n in members])
            y_all = np.concatenate([var[n]["happened"] for n in members])
            extreme = (p_all == 0.0) | (p_all == 1.0)
            row[g] = {"brier": b, "log": ls, "d_brier": b - b0, "d_log": ls - l0,
                      "extremes": int(extreme.sum()),
                      "extremes_wrong": int((extreme & ((p_all == 1.0) != y_all)).sum()),
                      "auc": auc(var, members),
                      "mean_p": float(np.mean(np.concatenate([var[n]["p"] for n in members])))}
        # paired differences per crisis, and their intervals
        diff_b = np.array([(_brier(var[n]["p"], var[n]["happened"])
                            - _brier(base[n]["p"], base[n]["happened"])).sum() for n in names])
        diff_l = np.array([(var[n]["log"] - base[n]["log"]).sum() for n in names])
        counts = np.array([base[n]["p"].size for n in names])
        row["all"]["ci_brier"] = crisis_bootstrap(diff_b, counts)
        row["all"]["ci_log"] = crisis_bootstrap(diff_l, counts)
        row["all"]["mc_se_brier"], row["all"]["mc_se_log"] = run_bootstrap_se(base, var, names)
        row["per_crisis_d_brier"] = {n: float(diff_b[i] / counts[i])
                                     for i, n in enumerate(names)}
        moved = []
        for n in names:
            for k, o in enumerate(base[n]["outcomes"]):
                dp = float(var[n]["p"][k] - base[n]["p"][k])
                if abs(dp) >= 0.05:
                    moved.append({"crisis": n, "outcome": o,
                                  "happened": bool(base[n]["happened"][k]),
                                  "p_base": float(base[n]["p"][k]),
                                  "p_off": float(var[n]["p"][k])})
        row["events_moved"] = moved
        result["variants"][v.name] = row
    if before is not None:
        old = load_before(before)
        result["before"] = {n: {o: list(x) for o, x in e.items()} for n, e in old.items()}
        row = {"folder": str(before)}
        for g, members in groups.items():
            b = [(x[0] - x[1]) ** 2 for n in members for x in old[n].values()]
            ls = [x[2] for n in members for x in old[n].values()]
            p = np.array([x[0] for n in members for x in old[n].values()])
            y = np.array([x[1] for n in members for x in old[n].values()], bool)
            row[g] = {"brier": float(np.mean(b)), "log": float(np.mean(ls)),
                      "auc": float((p[y][:, None] > p[~y][None, :]).mean()
                                   + 0.5 * (p[y][:, None] == p[~y][None, :]).mean()),
                      "mean_p": float(p.mean())}
        result["before_scores"] = row
    result["events"] = event_tables(result, data, [n for n in events if n in data["base"]])
    # the events at exactly 0 or 1 with everything on, and the variants that move them
    extremes = []
    for n in names:
        for k, o in enumerate(base[n]["outcomes"]):
            p0 = base[n]["p"][k]
            if p0 in (0.0, 1.0):
                extremes.append({
                    "crisis": n, "outcome": o, "happened": bool(base[n]["happened"][k]),
                    "p": float(p0),
                    "off": {v.name: float(data[v.name][n]["p"][k]) for v in done
                            if v.name != "base" and data[v.name][n]["p"][k] != p0}})
    result["extremes"] = extremes
    (out / "ablation.json").write_text(json.dumps(result, indent=1))
    (out / "ablation.md").write_text(markdown(result))
    return result


def markdown(result: dict) -> str:
    """The tables of ``ablation.md``."""
    lines = ["| variant (mechanism off) | Brier all | log all | dBrier all [95% crisis "
             "bootstrap] (MC se) | dlog all [95%] (MC se) | Brier 7 original | dBrier | "
             "Brier 8 newer | dBrier | AUC all | mean p | at 0 or 1 (wrong) |",
             "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in result["variants"].items():
        a, o, w = row["all"], row["original"], row["newer"]
        if name == "base":
            lines.append(f"| **{name}** (everything on) | {a['brier']:.3f} | {a['log']:.3f} "
                         f"| – | – | {o['brier']:.3f} | – | {w['brier']:.3f} | – | "
                         f"{a['auc']:.3f} | {a['mean_p']:.3f} | {a['extremes']} "
                         f"({a['extremes_wrong']}) |")
            continue
        lines.append(
            f"| {name} | {a['brier']:.3f} | {a['log']:.3f} | {a['d_brier']:+.3f} "
            f"[{a['ci_brier'][0]:+.3f}, {a['ci_brier'][1]:+.3f}] ({a['mc_se_brier']:.4f}) | "
            f"{a['d_log']:+.3f} [{a['ci_log'][0]:+.3f}, {a['ci_log'][1]:+.3f}] "
            f"({a['mc_se_log']:.4f}) | {o['brier']:.3f} | {o['d_brier']:+.3f} | "
            f"{w['brier']:.3f} | {w['d_brier']:+.3f} | {a['auc']:.3f} | {a['mean_p']:.3f} | "
            f"{a['extremes']} ({a['extremes_wrong']}) |")
    names = result["crises"]
    short = {n: n.split("_")[0][:8] for n in names}
    head = "| variant | " + " | ".join(short[n] for n in names) + " |"
    per = [head, "|---|" + "---:|" * len(names)]
    per.append("| base Brier | " + " | ".join(
        f"{result['base_brier'][n]:.3f}" for n in names) + " |")
    for name, row in result["variants"].items():
        if name == "base":
            continue
        cells = []
        for n in names:
            d = row["per_crisis_d_brier"][n]
            cells.append("0" if abs(d) < 5e-4 else f"{d:+.3f}")
        per.append(f"| {name} | " + " | ".join(cells) + " |")
    if "before_scores" in result:
        b = result["before_scores"]
        lines.append(f"| before ({b['folder']}) | {b['all']['brier']:.3f} | "
                     f"{b['all']['log']:.3f} | | | {b['original']['brier']:.3f} | | "
                     f"{b['newer']['brier']:.3f} | | {b['all']['auc']:.3f} | "
                     f"{b['all']['mean_p']:.3f} | |")
    ev = []
    if result.get("events"):
        ev = ["| crisis | outcome | happened | p before | p all on | p with one switch off "
              "(where it moves 0.03 or more) |", "|---|---|---|---:|---:|---|"]
        for e in result["events"]:
            moves = ", ".join(f"{k} {v:.3f}" for k, v in e["off"].items()
                              if abs(v - e["p_base"]) >= 0.03) or "none"
            pb = "" if e["p_before"] is None else f"{e['p_before']:.3f}"
            ev.append(f"| {e['crisis']} | {e['outcome']} | {'yes' if e['happened'] else 'no'} "
                      f"| {pb} | {e['p_base']:.3f} | {moves} |")
    ext = ["| crisis | outcome | happened | p (all on) | variants that move it (p off) |",
           "|---|---|---|---:|---|"]
    for e in result["extremes"]:
        moves = ", ".join(f"{k} {v:.3f}" for k, v in e["off"].items()) or "none"
        ext.append(f"| {e['crisis']} | {e['outcome']} | {'yes' if e['happened'] else 'no'} | "
                   f"{e['p']:.0f} | {moves} |")
    return ("## Overall\n\n" + "\n".join(lines) + "\n\n## Brier change per crisis (variant "
            "minus everything on; negative: the mechanism hurt that crisis)\n\n"
            + "\n".join(per) + "\n\n## Events at exactly 0 or 1 with everything on\n\n"
            + "\n".join(ext) + "\n"
            + ("\n## Events of the crises asked for\n\n" + "\n".join(ev) + "\n" if ev else ""))


# --------------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    """Run the study (each variant in its own process, one at a time), then the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path, default=ROOT / "scenarios" / "library")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "ablation")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="worker processes")
    parser.add_argument("--only", default="", help="comma-separated variants (default all)")
    parser.add_argument("--table-only", action="store_true", help="only rebuild the tables")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--events", default="", help="comma-separated crises to tabulate "
                        "event by event")
    parser.add_argument("--before", type=Path, default=None, help="a sim validate output "
                        "folder of another commit, shown beside everything on")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args(argv)
    if args.list:
        for v in VARIANTS:
            print(f"{v.name:16s} {v.mechanism}: {v.how}")
        return 0
    if args.one:
        variant = BY_NAME[args.one]
        run_variant(variant, args.library, args.out / variant.name, args.runs, args.seed,
                    args.workers)
        return 0
    if not args.table_only:
        chosen = [BY_NAME[n] for n in args.only.split(",")] if args.only else list(VARIANTS)
        args.out.mkdir(parents=True, exist_ok=True)
        for v in chosen:
            if (args.out / v.name / "skill.json").is_file():
                print(f"{v.name}: done before, kept", flush=True)
                continue
            cmd = [sys.executable, str(Path(__file__).resolve()), "--one", v.name,
                   "--library", str(args.library), "--out", str(args.out),
                   "--runs", str(args.runs), "--seed", str(args.seed)]
            if args.workers:
                cmd += ["--workers", str(args.workers)]
            start = time.monotonic()
            done = subprocess.run(cmd, check=False)
            took = time.monotonic() - start
            print(f"{v.name}: {'done' if done.returncode == 0 else 'FAILED'} in {took:.0f} s",
                  flush=True)
            with open(args.out / "timings.txt", "a") as fh:
                fh.write(f"{v.name}\t{took:.1f}\t{done.returncode}\n")
    result = build_table(args.out, tuple(x for x in args.events.split(",") if x),
                         args.before)
    print((args.out / "ablation.md").read_text())
    return 0 if result else 1


if __name__ == "__main__":
    raise SystemExit(main())
