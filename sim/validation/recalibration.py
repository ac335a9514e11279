"""Logistic recalibration of the ensemble's event probabilities (issue 24, item 3).

The model's raw probabilities (the share of runs in which an outcome happened) are
overconfident: many are exactly 0 or 1 and too few of the confident ones come true. Weather
and conflict forecasters post-process an imperfect ensemble into calibrated probabilities
(logistic recalibration, Platt 1999; EMOS, Gneiting et al. 2005; the VIEWS ensembles), always
showing the raw forecast beside it. Here the post-processing is the smallest model that can
correct overconfidence: ::

    calibrated = expit(intercept + slope * logit(clip(p, CLIP, 1 - CLIP)))

fitted by maximum likelihood (scikit-learn's ``LogisticRegression`` without a penalty) on the
library's events. A slope below 1 shrinks the model's confidence (toward the intercept's base
rate); a slope near 0 says the model's probabilities carry almost no information; as the model
gains resolution the slope should rise toward 1.

The clip: a share of 0 or 1 has no logit, and an ensemble of a few hundred runs cannot tell
"never" from "one run in a thousand". Probabilities are held 1% away from 0 and 1 (``CLIP``), a
constant chosen before any fit (not tuned on the library), so the recalibration does not depend
on how many runs made the probability.

The fitted values live in a versioned file beside the library (``recalibration.json``, written
by ``sim validate --cv --write-recalibration``) with the library's git commit, its crises and
event counts, and the leave-one-crisis-out (LOCO) scores that say whether it helps. For a crisis
of the library, the calibrated probability shown is the one fitted *without* that crisis (its
LOCO fit), so it is an honest out-of-sample forecast; for any other scenario, the fit on the
whole library is applied and labelled as such.
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import UsageError

#: probabilities are held this far from 0 and 1 before the logit (chosen a priori, not fitted)
CLIP = 0.01
FILE_NAME = "recalibration.json"
FORMAT_VERSION = 1
#: a fitted slope or intercept beyond this is refused when read (a damaged or hostile file)
MAX_COEFFICIENT = 1000.0


def logit_clipped(p) -> np.ndarray:
    """``logit(clip(p, CLIP, 1 - CLIP))``: the recalibration's predictor."""
    q = np.clip(np.asarray(p, float), CLIP, 1.0 - CLIP)
    return np.log(q / (1.0 - q))


def _expit(z) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, float)))


def _logit(q: float) -> float:
    return math.log(q / (1.0 - q))


@dataclass(frozen=True)
class Fit:
    """A fitted recalibration: ``expit(intercept + slope * logit_clipped(p))``.

    Attributes:
        intercept: Fitted intercept.
        slope: Fitted slope on the clipped logit of the raw probability.
        events: Events it was fitted on.
        happened: How many of them happened.
        note: Why the fit is degenerate (every event the same, or one raw probability for
            all), else None.
    """

    intercept: float
    slope: float
    events: int
    happened: int
    note: str | None = None

    def apply(self, p) -> np.ndarray:
        """Calibrated probabilities of raw probabilities ``p``."""
        return _expit(self.intercept + self.slope * logit_clipped(p))

    def as_dict(self) -> dict:
        """The fit as JSON-ready numbers."""
        out = {"intercept": self.intercept, "slope": self.slope, "events": self.events,
               "happened": self.happened}
        if self.note:
            out["note"] = self.note
        return out


def fit(p, happened) -> Fit:
    """Fit the logistic recalibration of raw probabilities ``p`` to outcomes ``happened``.

    Maximum likelihood with scikit-learn (no penalty: the estimate is the textbook logistic
    regression). When every event has the same outcome, or every raw probability is the same
    after clipping, the slope is not identified: the fit is then the base rate alone
    (Krichevsky-Trofimov ``(k + 0.5) / (n + 1)`` so it is never 0 or 1) with slope 0, and says so.

    Raises:
        ValueError: No events.
    """
    x = logit_clipped(p)
    y = np.asarray(happened, bool)
    n, k = int(y.size), int(y.sum())
    if n == 0:
        raise ValueError("no events to fit a recalibration on")
    if k in (0, n) or np.ptp(x) == 0:
        note = ("every event had the same outcome" if k in (0, n) else
                "every raw probability was the same")
        return Fit(_logit((k + 0.5) / (n + 1)), 0.0, n, k, f"{note}: base rate only")
    separated = x[~y].max() <= x[y].min() or x[y].max() <= x[~y].min()
    if separated:  # the likelihood grows without bound as the slope does: no estimate
        return Fit(_logit((k + 0.5) / (n + 1)), 0.0, n, k,
                   "the events are separated by the raw probability (no finite maximum "
                   "likelihood): base rate only")
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=10_000, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            model.fit(x[:, None], y)
        except ConvergenceWarning:
            return Fit(_logit((k + 0.5) / (n + 1)), 0.0, n, k,
                       "the fit did not converge: base rate only")
    return Fit(float(model.intercept_[0]), float(model.coef_[0, 0]), n, k)


# --------------------------------------------------------------------------- event kinds

#: the kind of an event, from the first indicator or state its outcome's condition names
KINDS = {
    "war": ("rung", "war", "attacks", "air_support", "air_losses", "losses", "dead"),
    "agreement": ("agreement", "breakdown"),
    "asset": ("asset", "granted", "activated", "requested"),
    "gate": ("gate", "opened", "closed"),
    "control": ("control",),
    "refugees": ("people", "displaced"),
    "sanctions": ("sanctions", "sanctioned", "lifted", "sanction_cost"),
}
_KIND_OF = {family: kind for kind, families in KINDS.items() for family in families}
#: inverse L2 strength of the kind model (scikit-learn's default C; the kinds are one-hot
#: offsets, so a kind with few events is pulled toward the others rather than fitted alone)
KIND_C = 1.0


def condition_kind(cond) -> str:
    """The kind of an outcome's condition (``KINDS``; ``other`` for anything else)."""
    while cond is not None:
        if cond.indicator is not None or cond.state is not None:
            return _family_kind(cond.indicator, cond.state)
        subs = [*(cond.all or []), *(cond.any or [])]
        cond = subs[0] if subs else cond.not_
    return "other"


def _family_kind(indicator: str | None, state: str | None) -> str:
    if indicator is not None:
        parts = str(indicator).split(".")
        family = parts[1] if parts[0] == "day" and len(parts) > 1 else parts[0]
        return _KIND_OF.get(family, "other")
    return _KIND_OF.get(str(state).split(".")[0], "other")


def mapping_kinds(scenario: dict) -> dict[str, str]:
    """Outcome kinds from a scenario read as plain YAML (a results folder's copy; untrusted)."""
    out = {}
    outcomes = scenario.get("outcomes") if isinstance(scenario, dict) else None
    for name, o in (outcomes.items() if isinstance(outcomes, dict) else []):
        cond, kind = o.get("when") if isinstance(o, dict) else None, "other"
        for _ in range(50):  # bounded: a hostile file cannot loop
            if not isinstance(cond, dict):
                break
            if "indicator" in cond or "state" in cond:
                kind = _family_kind(cond.get("indicator"), cond.get("state"))
                break
            subs = cond.get("all") or cond.get("any")
            cond = subs[0] if isinstance(subs, list) and subs else cond.get("not")
        out[str(name)] = kind
    return out


def outcome_kinds(spec) -> dict[str, str]:
    """Every outcome of a scenario with its kind."""
    return {name: condition_kind(o.when) for name, o in spec.outcomes.items()}


@dataclass(frozen=True)
class KindFit:
    """The recalibration with an offset per kind of event: ``expit(a + b logit p + c_kind)``.

    Fitted with an L2 penalty (``KIND_C``) on the slope and the offsets (not the intercept),
    so a kind seen in few events is shrunk toward the others; a kind never seen has offset 0.
    """

    intercept: float
    slope: float
    offsets: dict[str, float]
    events: int
    happened: int
    note: str | None = None

    def apply(self, p, kinds) -> np.ndarray:
        """Calibrated probabilities of raw probabilities ``p`` of events of ``kinds``."""
        offset = np.array([self.offsets.get(k, 0.0) for k in np.atleast_1d(kinds)], float)
        out = _expit(self.intercept + self.slope * logit_clipped(p) + offset)
        return out if np.ndim(p) else out[0]

    def as_dict(self) -> dict:
        """The fit as JSON-ready numbers."""
        out = {"intercept": self.intercept, "slope": self.slope, "offsets": dict(self.offsets),
               "events": self.events, "happened": self.happened}
        if self.note:
            out["note"] = self.note
        return out


def fit_kind(p, happened, kinds) -> KindFit:
    """Fit the recalibration with one offset per kind (penalised; see ``KindFit``)."""
    x = logit_clipped(p)
    y = np.asarray(happened, bool)
    kinds = np.asarray(kinds, str)
    n, k = int(y.size), int(y.sum())
    if n == 0:
        raise ValueError("no events to fit a recalibration on")
    if k in (0, n):
        return KindFit(_logit((k + 0.5) / (n + 1)), 0.0, {}, n, k,
                       "every event had the same outcome: base rate only")
    from sklearn.linear_model import LogisticRegression

    names = sorted(set(kinds.tolist()))
    design = np.column_stack([x, *[(kinds == c).astype(float) for c in names]])
    model = LogisticRegression(C=KIND_C, solver="lbfgs", max_iter=10_000, tol=1e-10)
    model.fit(design, y)
    coef = model.coef_[0]
    return KindFit(float(model.intercept_[0]), float(coef[0]),
                   {c: float(v) for c, v in zip(names, coef[1:], strict=True)}, n, k)


# --------------------------------------------------------------------------- the stored file


def library_commit(folder: Path) -> dict:
    """The git commit of the library folder and whether its files differ from it."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                                  text=True, timeout=20, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    changed = git("status", "--porcelain", "--", ".")
    return {"commit": commit, "uncommitted_changes": bool(changed) if commit else None}


def recalibration_record(cv: dict, folder: Path, runs: int) -> dict:
    """The content of ``recalibration.json`` from a cross-validation (``crossval``).

    It holds the recalibration chosen leave one crisis out (plain, or with an offset per kind
    of event), fitted on every event of the library, and for each crisis the same model fitted
    without it (what ``sim run`` applies to that crisis).
    """
    overall = cv["overall"]
    chosen = cv["selected"]
    full = cv["fit_kind"] if chosen == "recalibrated_kind" else cv["fit"]
    return {
        "format": FORMAT_VERSION,
        "what": "logistic recalibration of the ensemble's event probabilities: calibrated = "
                f"expit(intercept + slope * logit(clip(p, {CLIP}, {1 - CLIP})) "
                "+ offsets[kind of event])",
        "model": "with an offset per kind of event" if chosen == "recalibrated_kind" else
                 "intercept and slope (no offsets: a kind of event did not help leave one "
                 "crisis out)",
        "fitted_with": "scikit-learn LogisticRegression: no penalty for intercept and slope "
                       f"alone; L2 with C = {KIND_C} on slope and offsets with kinds",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "library": {"folder": str(folder), **library_commit(folder)},
        "runs_per_crisis": runs,
        "clip": CLIP,
        "intercept": full["intercept"], "slope": full["slope"],
        "offsets": full.get("offsets", {}),
        "events": full["events"], "happened": full["happened"],
        "crises": [{"crisis": c["crisis"], "scenario": c["scenario"],
                    "scenario_file": c["scenario_file"], "events": c["events"],
                    "loco": c[f"loco_fit_{chosen}"]} for c in cv["crises"]],
        "loco_scores": {k: {m: overall[k][m] for m in ("brier", "log_score")}
                        for k in ("raw", "recalibrated", "recalibrated_kind", "climatology")}
        | {"used": {m: overall[chosen][m] for m in ("brier", "log_score")}},
        "regenerate": "sim validate --cv --write-recalibration",
    }


def _number(value, where: str, low: float = -MAX_COEFFICIENT, high: float = MAX_COEFFICIENT
            ) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not low <= value <= high:
        raise UsageError(f"{where}: expected a number in [{low:g}, {high:g}], not {value!r}")
    return float(value)


def _offsets(value, where: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 100:
        raise UsageError(f"{where}: expected a mapping of kinds to numbers")
    return {str(k): _number(v, f"{where}.{k}") for k, v in value.items()}


def read_recalibration(path: Path) -> dict:
    """Read and check a ``recalibration.json`` (untrusted: bounded read, every field checked).

    Returns:
        ``{"path", "intercept", "slope", "offsets", "events", "crises": [{crisis, scenario,
        scenario_file, events, loco: {intercept, slope, offsets} | None}], "loco_scores",
        "commit"}``.

    Raises:
        UsageError: Missing, damaged or of another format (one line, naming the field).
    """
    from sim.execution.outdir import read_json

    path = Path(path)
    data = read_json(path)
    try:
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise UsageError(f"{path}: not a recalibration file of format {FORMAT_VERSION}; "
                             "regenerate it with sim validate --cv --write-recalibration")
        crises = []
        for i, c in enumerate(data["crises"]):
            loco = c.get("loco")
            where = f"{path}: crises[{i}].loco"
            if loco is not None:
                loco = {"intercept": _number(loco["intercept"], where),
                        "slope": _number(loco["slope"], where),
                        "offsets": _offsets(loco.get("offsets"), f"{where}.offsets")}
            crises.append({"crisis": str(c["crisis"]), "scenario": str(c["scenario"]),
                           "scenario_file": str(c["scenario_file"]),
                           "events": int(_number(c["events"], f"{path}: crises[{i}].events",
                                                 0, 1e6)), "loco": loco})
        scores = {k: {m: _number(data["loco_scores"][k][m], f"{path}: loco_scores.{k}.{m}",
                                 0, 1e3) for m in ("brier", "log_score")}
                  for k in ("raw", "used", "climatology")}
        library = data.get("library") if isinstance(data.get("library"), dict) else {}
        commit = library.get("commit")
        return {"path": path, "intercept": _number(data["intercept"], f"{path}: intercept"),
                "slope": _number(data["slope"], f"{path}: slope"),
                "offsets": _offsets(data.get("offsets"), f"{path}: offsets"),
                "events": int(_number(data["events"], f"{path}: events", 0, 1e6)),
                "crises": crises, "loco_scores": scores,
                "commit": commit if isinstance(commit, str) else None}
    except (KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: damaged recalibration file ({type(exc).__name__}: "
                         f"{str(exc)[:80]}); regenerate it with sim validate --cv "
                         "--write-recalibration") from None


def find_recalibration(scenario_file: Path | None = None) -> Path | None:
    """The recalibration file that applies to a scenario, or None.

    Looked for, in order: beside the scenario (a crisis of the library), in a ``library``
    folder beside it (``scenarios/idlib_2020.yaml`` and ``scenarios/library/``), in
    ``scenarios/library/`` of the working folder, and in the library shipped with the code.
    """
    places = []
    if scenario_file is not None:
        here = Path(scenario_file).parent
        places += [here / FILE_NAME, here / "library" / FILE_NAME]
    places += [Path("scenarios") / "library" / FILE_NAME,
               Path(__file__).resolve().parents[2] / "scenarios" / "library" / FILE_NAME]
    return next((p for p in places if p.is_file()), None)


def _crisis_of(record: dict, scenario_name: str | None, scenario_file: str | None
               ) -> dict | None:
    """The library crisis a scenario is (by file name, then by unique scenario name)."""
    if scenario_file:
        stem = Path(scenario_file).name
        by_file = [c for c in record["crises"] if c["scenario_file"] == stem]
        if len(by_file) == 1:
            return by_file[0]
    if scenario_name:
        by_name = [c for c in record["crises"] if c["scenario"] == scenario_name]
        if len(by_name) == 1:
            return by_name[0]
    return None


def calibrated_outcomes(outcomes: list[dict], *, scenario_name: str | None = None,
                        scenario_file: str | Path | None = None,
                        kinds: dict[str, str] | None = None,
                        path: Path | None = None) -> dict | None:
    """Each outcome's calibrated probability beside the model's own, with its basis.

    Args:
        outcomes: ``outcome_table`` rows (``outcome``, ``probability``).
        scenario_name: The scenario's ``name`` (to recognise a crisis of the library).
        scenario_file: The scenario file (same; and where to look for the file).
        kinds: Outcome -> kind of event (``outcome_kinds``), for a recalibration with
            offsets per kind (an outcome not listed is ``other``).
        path: A recalibration file (default: ``find_recalibration``).

    Returns:
        ``{"rows": [{outcome, probability, calibrated}], "basis": one line, "file",
        "intercept", "slope", "offsets", "held_out": crisis or None}``, or None when no
        recalibration file is found.

    Raises:
        UsageError: The file is damaged.
    """
    path = path or find_recalibration(Path(scenario_file) if scenario_file else None)
    if path is None:
        return None
    record = read_recalibration(path)
    crisis = _crisis_of(record, scenario_name, str(scenario_file) if scenario_file else None)
    n_crises, n_events = len(record["crises"]), record["events"]
    s = record["loco_scores"]
    scores = (f"leave-one-crisis-out Brier {s['used']['brier']:.3f} against the raw "
              f"model's {s['raw']['brier']:.3f} (climatology {s['climatology']['brier']:.3f})")
    commit = f", library commit {record['commit'][:7]}" if record["commit"] else ""
    if crisis is not None and crisis["loco"] is not None:
        model = crisis["loco"]
        basis = (f"calibrated: logistic recalibration fitted on the {n_crises - 1} other crises "
                 f"of the library ({n_events - crisis['events']} events; this crisis, "
                 f"{crisis['crisis']}, held out), slope {model['slope']:.2f}; {scores} "
                 f"({path}{commit})")
    else:
        model = record
        basis = (f"calibrated: logistic recalibration fitted on the library's {n_crises} crises "
                 f"({n_events} events), slope {model['slope']:.2f}; this scenario is not one "
                 f"of them, so read it as a rough guide; {scores} ({path}{commit})")
    recal = KindFit(model["intercept"], model["slope"], model["offsets"], n_events, 0)
    kinds = kinds or {}
    rows = [{"outcome": r["outcome"], "probability": float(r["probability"]),
             "kind": kinds.get(r["outcome"], "other"),
             "calibrated": float(recal.apply(float(r["probability"]),
                                             kinds.get(r["outcome"], "other")))}
            for r in outcomes]
    return {"rows": rows, "basis": basis, "file": str(path), "intercept": model["intercept"],
            "slope": model["slope"], "offsets": model["offsets"],
            "held_out": crisis["crisis"] if crisis else None}


def format_outcomes_calibrated(outcomes: list[dict], calibrated: dict | None) -> str:
    """The outcome table of ``sim run`` with a ``calibrated`` column and its basis line."""
    from sim.analysis import format_outcomes

    table = format_outcomes(outcomes)
    if calibrated is None:
        return table
    by_name = {r["outcome"]: r["calibrated"] for r in calibrated["rows"]}
    lines = table.split("\n")
    lines[0] += "  calibrated"
    for i, r in enumerate(outcomes, start=1):
        value = by_name.get(r["outcome"])
        lines[i] += f"  {value:10.1%}" if value is not None else ""
    return "\n".join([*lines, calibrated["basis"]])


def run_calibration(loaded, outcomes: list[dict], out_dir: Path | None) -> dict | None:
    """The calibrated probabilities of a run (``sim run``), saved as ``calibrated.json``.

    A damaged recalibration file does not stop a finished run: it is named in one line on
    stderr and the run's own probabilities are shown alone.
    """
    import sys

    from sim.execution.storage import write_json

    try:
        calibrated = calibrated_outcomes(outcomes, scenario_name=loaded.spec.name,
                                         scenario_file=loaded.path,
                                         kinds=outcome_kinds(loaded.spec))
    except UsageError as exc:
        print(f"warning: calibrated probabilities not shown: {exc}", file=sys.stderr)
        return None
    if calibrated is not None and out_dir is not None and Path(out_dir).is_dir():
        write_json(Path(out_dir) / "calibrated.json", calibrated)
    return calibrated


def calibrated_html(folder: Path, outcomes: list[dict], scenario_name: str | None,
                    kinds: dict[str, str] | None = None) -> str:
    """The report's table of calibrated beside raw probabilities ('' when there is none).

    ``calibrated.json`` written by ``sim run`` is shown as it was; a folder without one (an
    older run, or one made through the API without a folder) is calibrated with the
    recalibration file found now, and says so. Both files are untrusted: anything odd is one
    line on the page, not a failed report.
    """
    import html

    from sim.execution.outdir import read_json

    path = Path(folder) / "calibrated.json"
    note = ""
    try:
        if path.is_file():
            data = read_json(path)
            rows = [{"outcome": str(r["outcome"]),
                     "probability": _number(r["probability"], f"{path}", 0, 1),
                     "calibrated": _number(r["calibrated"], f"{path}", 0, 1)}
                    for r in data["rows"]]
            basis = str(data["basis"])
        else:
            data = calibrated_outcomes(outcomes, scenario_name=scenario_name, kinds=kinds)
            if data is None:
                return ""
            rows, basis = data["rows"], data["basis"]
            note = " (computed for this report from the recalibration file found now)"
    except (UsageError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"<p class=note>Calibrated probabilities not shown: {html.escape(str(exc))}</p>"
    body = "".join(f"<tr><td>{html.escape(r['outcome'])}</td><td class=num>"
                   f"{r['probability']:.1%}</td><td class=num>{r['calibrated']:.1%}</td></tr>"
                   for r in rows)
    return ("<h3>Calibrated probabilities</h3><p class=note>The model's own probability "
            "beside the one recalibrated on the library's track record (logistic "
            f"recalibration; raw first, always).{html.escape(note)}</p>"
            f"<table><tr><th>outcome</th><th>model</th><th>calibrated</th></tr>{body}</table>"
            f"<p class=note>{html.escape(basis)}</p>")
