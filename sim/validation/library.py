"""``sim validate``: run every crisis of the library, score it, and tabulate skill.

A crisis of the library is an observations file (``*.observations.yaml``) in the library folder
and the scenario it names. Each is run (``--runs`` replications, the scenario's seed unless
``--seed`` is given), scored against its observations (``sim.validation.scores``), and the
results are gathered into one skill table, per crisis and overall, written as ``skill.json``
and ``skill.md``. ``--readme FILE`` puts the Markdown table into FILE between the markers
``<!-- skill-table:start -->`` and ``<!-- skill-table:end -->`` (nothing else in the file is
touched). ``--crises a,b`` runs and tabulates only the named crises: their table, overall row
and baselines are over them alone (the climatology of each from the other chosen ones).

Baselines: the *uninformed* forecast gives every event p = 0.5. The *climatological* forecast
gives every event of a crisis the share of events that happened in the *other* crises of the
library (leave one crisis out, so a crisis never forecasts itself): the base rate at which the
outcomes a scenario author thinks worth defining turn out to happen.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import numpy as np

from sim.errors import ScenarioError, UsageError
from sim.validation.observations import crisis_name, library_files  # also importable here
from sim.validation.scores import BRIER_UNINFORMED, LOG_UNINFORMED, brier, skill

log = logging.getLogger(__name__)
START, END = "<!-- skill-table:start -->", "<!-- skill-table:end -->"


def validate_library(folder: Path, *, runs: int = 1000, seed: int | None = None,
                     out_dir: Path, workers: int | None = None, progress: bool = True,
                     on_crisis=None, cv: bool = False, point: bool = False,
                     pooled: bool = True, crises: list[str] | None = None) -> dict:
    """Run and score every crisis; write ``skill.json`` and ``skill.md`` into ``out_dir``.

    Every observations file (and its scenario) is loaded and checked before anything runs,
    so a mistake in the last crisis is reported at once, with all the others. With ``cv``,
    the leave-one-crisis-out section (``sim.validation.crossval``) is added to both files and
    its reliability diagram written as ``reliability.png``. A crisis whose scenario declares
    priors (``range:``/``prior:``) is run drawing them, as ``sim run`` does by default (issue
    24: forecasts carry the parameter uncertainty their scenario states); ``point`` runs every
    crisis at its point values instead. Unless ``point`` or not ``pooled``, a library with a
    pooled posterior (``pooled_posterior.json`` of ``sim calibrate --library``) scales each
    crisis's generic constants by it (the fit without that crisis when the file holds one).
    ``crises``: only these crises (names as ``crisis_name``), in the library's order; the
    result then says which (``only``).
    """
    from sim.execution.ensemble import run_ensemble
    from sim.execution.storage import atomic_write_bytes, write_json
    from sim.execution.variation import pooled_set, uncertain_set
    from sim.validation.observations import load_observations
    from sim.validation.pooled import POSTERIOR_FILE, pooled_for
    from sim.validation.recalibration import outcome_kinds
    from sim.validation.scores import score_run

    files = library_files(folder)
    if crises is not None:
        files = chosen_crises(files, crises, folder)
    loaded, problems = [], []
    for path in files:
        try:
            loaded.append(load_observations(path))
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    from sim.execution.outdir import claim_folder

    out_dir = Path(out_dir)
    # claimed and locked as run's folders are (the lock is held until this process ends): a
    # folder of the user's (their skill.md) is refused, and a second validate into it at once
    claim_folder(out_dir, made_before_marker=_validation_folder)
    scored = []
    for path, obs in zip(files, loaded, strict=True):
        name = crisis_name(path)
        run_dir = out_dir / name
        scenario = obs.scenario
        run_seed = scenario.spec.run.seed if seed is None else seed
        priors = bool(scenario.uncertain) and not point
        log.info("validate: %s (%d runs, seed %d%s)", name, runs, run_seed,
                 ", drawing its priors" if priors else "")
        varied = uncertain_set(scenario, run_seed, runs) if priors else None
        post = None
        if pooled and not point and (Path(folder) / POSTERIOR_FILE).is_file():
            post = pooled_for(scenario, Path(folder) / POSTERIOR_FILE)
        if post is not None:
            varied = pooled_set(scenario, run_seed, runs, post, varied)
        run_ensemble(scenario, runs=runs, seed=run_seed, workers=workers, out_dir=run_dir,
                     progress=progress, varied=varied)
        score = score_run(run_dir, path)
        scored.append({"crisis": name, "scenario": scenario.spec.name,
                       "scenario_file": scenario.path.name if scenario.path else "",
                       "kinds": outcome_kinds(scenario.spec),
                       "observations": str(path), "runs": runs, "seed": run_seed,
                       "priors": priors,
                       "pooled": varied.pooled if varied is not None else None,
                       "score": score})
        if on_crisis is not None:
            on_crisis(name, score)
    result = skill_table(scored)
    result["created"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["library"] = str(folder)
    # which crises scaled their generic constants by the pooled posterior (and which fit)
    result["pooled"] = {c["crisis"]: c["pooled"] for c in scored if c["pooled"]}
    if crises is not None:
        result["only"] = [c["crisis"] for c in scored]
    if cv:
        from sim.validation.crossval import cross_validate, reliability_figure

        result["cross_validation"] = cross_validate(scored)
        reliability_figure(result["cross_validation"], out_dir / "reliability.png")
    write_json(out_dir / "skill.json", result)
    atomic_write_bytes(out_dir / "skill.md", (markdown_table(result) + "\n").encode())
    return result


def chosen_crises(files: list[Path], names: list[str], folder: Path) -> list[Path]:
    """The observations files of the crises named, in the library's order.

    An unknown name is an error that lists the library's crises (and the closest, if one is).
    """
    from difflib import get_close_matches

    known = [crisis_name(p) for p in files]
    for name in names:
        if name not in known:
            close = get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UsageError(f"{folder}: no crisis named '{name[:100]}'{hint}; its crises: "
                             + ", ".join(known))
    if not names:
        raise UsageError("--crises names no crisis: give one or more names separated by commas")
    wanted = set(names)
    return [p for p in files if crisis_name(p) in wanted]


def _validation_folder(folder: Path) -> bool:
    """Whether ``folder`` is one ``sim validate`` wrote before it left a marker.

    Only its own files: ``skill.json``, ``skill.md`` and crisis folders of ``sim run``.
    """
    from sim.execution.outdir import is_ours

    entries = list(folder.iterdir())
    return any(p.name == "skill.json" for p in entries) and all(
        (p.name in ("skill.json", "skill.md", ".lock") and p.is_file() and not p.is_symlink())
        or (p.is_dir() and not p.is_symlink() and is_ours(p)) for p in entries)


def skill_table(crises: list[dict]) -> dict:
    """Per crisis and overall: Brier, log score, skill against the baselines, coverage."""
    rows = []
    for c in crises:
        score = c["score"]
        events = score["events"]
        others = [e["happened"] for o in crises if o is not c for e in o["score"]["events"]]
        base_rate = float(np.mean(others)) if others else None
        row = {"crisis": c["crisis"], "scenario": c["scenario"], "runs": c["runs"],
               "events": len(events), **_event_means(events, base_rate),
               **_coverage(score["quantities"] + score["days_of_events"])}
        rows.append(row)
    all_events = [e for c in crises for e in c["score"]["events"]]
    scored = [r for c in crises for r in c["score"]["quantities"] + c["score"]["days_of_events"]]
    # the overall climatological score: each event forecast by the other crises' base rate
    clim = []
    for c in crises:
        others = [e["happened"] for o in crises if o is not c for e in o["score"]["events"]]
        if others:
            clim += [brier(float(np.mean(others)), e["happened"]) for e in c["score"]["events"]]
    overall = {"crisis": "overall", "scenario": f"{len(crises)} crises", "runs": None,
               "events": len(all_events), **_event_means(all_events, None),
               **_coverage(scored)}
    if clim and len(clim) == len(all_events):
        overall["brier_climatological"] = float(np.mean(clim))
        overall["brier_skill_climatological"] = skill(overall["brier"],
                                                      overall["brier_climatological"])
    return {"crises": rows, "overall": overall,
            "baselines": {"uninformed": {"p": 0.5, "brier": BRIER_UNINFORMED,
                                         "log_score": LOG_UNINFORMED},
                          "climatological": "each event of a crisis forecast with the share "
                          "of events that happened in the other crises of the library"}}


def _event_means(events: list[dict], base_rate: float | None) -> dict:
    if not events:
        return {"brier": None, "log_score": None, "brier_skill": None, "log_skill": None,
                "verdict": "no events"}
    b = float(np.mean([e["brier"] for e in events]))
    ls = float(np.mean([e["log_score"] for e in events]))
    out = {"brier": b, "log_score": ls, "brier_skill": skill(b, BRIER_UNINFORMED),
           "log_skill": skill(ls, LOG_UNINFORMED)}
    if base_rate is not None:
        clim = float(np.mean([brier(base_rate, e["happened"]) for e in events]))
        out["brier_climatological"] = clim
        out["brier_skill_climatological"] = skill(b, clim)
    margin = 0.01  # a Brier within 0.01 of the baseline's is no difference worth a word
    out["verdict"] = ("better than uninformed" if b < BRIER_UNINFORMED - margin else
                      "worse than uninformed" if b > BRIER_UNINFORMED + margin else
                      "no better than uninformed")
    return out


def _coverage(rows: list[dict]) -> dict:
    if not rows:
        return {"quantities": 0, "coverage50": None, "coverage90": None}
    return {"quantities": len(rows),
            "coverage50": float(np.mean([r["covered50"] for r in rows])),
            "coverage90": float(np.mean([r["covered90"] for r in rows]))}


def _cell(x, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def markdown_table(result: dict) -> str:
    """The skill table in Markdown (one row per crisis, then the overall row)."""
    lines = ["| crisis | events | Brier | log score | Brier skill | log skill | "
             "skill vs climatology | quantities | in 50% | in 90% | against p = 0.5 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in [*result["crises"], result["overall"]]:
        name = f"**{r['crisis']}**" if r["crisis"] == "overall" else f"`{r['crisis']}`"
        lines.append(
            f"| {name} | {r['events']} | {_cell(r['brier'], '.3f')} | "
            f"{_cell(r['log_score'], '.3f')} | {_cell(r['brier_skill'], '+.2f')} | "
            f"{_cell(r['log_skill'], '+.2f')} | "
            f"{_cell(r.get('brier_skill_climatological'), '+.2f')} | {r['quantities']} | "
            f"{_cell(r['coverage50'], '.0%')} | {_cell(r['coverage90'], '.0%')} | "
            f"{r['verdict']} |")
    runs = {r["runs"] for r in result["crises"]}
    better = [r["crisis"] for r in result["crises"] if r["verdict"] == "better than uninformed"]
    worse = [r["crisis"] for r in result["crises"] if r["verdict"] == "worse than uninformed"]
    lines.append("")
    lines.append(f"In plain words: the model's event probabilities beat the uninformed 50% on "
                 f"{len(better)} of {len(result['crises'])} crises"
                 + (f" ({', '.join(better)})" if better else "")
                 + f" and do worse on {len(worse)}" + (f" ({', '.join(worse)})" if worse else "")
                 + f"; over all {result['overall']['events']} events it is "
                 f"{result['overall']['verdict']}.")
    lines.append(f"Brier and log score: mean over the crisis's events (lower is better; the "
                 f"uninformed p = 0.5 scores {BRIER_UNINFORMED:.3f} and {LOG_UNINFORMED:.3f}). "
                 "Skill = 1 - score / baseline's score: above 0 beats the baseline. "
                 "Climatology: each event forecast by the share of events that happened in "
                 "the other crises. In 50% / 90%: share of observed quantities and event days "
                 "inside the runs' central intervals (calibrated: about 50% and 90%). "
                 f"{'/'.join(str(r) for r in sorted(runs))} runs per crisis.")
    if result.get("only"):
        lines.append(f"Only the crises asked for ({', '.join(result['only'])}): the overall row "
                     "and the climatology are over them alone, not the whole library.")
    pooled = result.get("pooled") or {}
    if pooled:
        held = sum(bool(p.get("fitted_without_this_crisis")) for p in pooled.values())
        first = next(iter(pooled.values()))
        lines.append(f"Generic constants ({', '.join(first['constants'])}) scaled by the pooled "
                     f"posterior {first['file']} on {len(pooled)} crises, {held} of them by "
                     "the fit without that crisis (the others' fit included them: in-sample); "
                     "--no-pooled runs without it.")
    if "cross_validation" in result:
        from sim.validation.crossval import markdown_cv

        lines += ["", markdown_cv(result["cross_validation"])]
    return "\n".join(lines)


MAX_README_BYTES = 5_000_000


def read_readme(readme: Path) -> tuple[Path, str]:
    """The file ``--readme`` writes (a symlink's target) and its text, markers checked.

    Called before any crisis runs, so a README without the markers is refused at once.

    Raises:
        UsageError: Not found, not a regular file, too large, not UTF-8, or without the
            markers (each once, in order).
    """
    from sim.safety import UnsafeFileError, read_limited

    readme = Path(readme)
    # a symlinked README stays a link: its target is the file updated
    target = Path(os.path.realpath(readme))
    try:
        text = read_limited(target, MAX_README_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"{readme}: file not found") from None
    except UnsafeFileError as exc:
        raise UsageError(f"{readme}: {exc}; give the README file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {readme}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{readme}: not UTF-8 text; give the README file") from None
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise UsageError(f"{readme}: put the markers {START} and {END} (each once, in this "
                         "order) where the skill table goes")
    return target, text


def update_readme(readme: Path, table: str) -> None:
    """Replace the text between the skill-table markers of ``readme`` with ``table``.

    The file keeps its mode, and a symlink stays a symlink (its target is rewritten).
    """
    from sim.execution.storage import atomic_write_bytes

    target, text = read_readme(readme)
    head, rest = text.split(START)
    _, tail = rest.split(END)
    atomic_write_bytes(target, f"{head}{START}\n{table}\n{END}{tail}".encode())
