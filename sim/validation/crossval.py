"""``sim validate --cv``: out-of-sample skill over the library (issue 24, item 2).

Anything fitted on the library's events is scored leave-one-crisis-out (LOCO): for each crisis,
fit on the events of all the *other* crises and forecast this one's. Three forecasts of every
event are compared:

* **raw**: the model's own probability (the share of runs; the log score uses the
  Krichevsky-Trofimov estimate ``(k + 0.5) / (n + 1)``, as ``sim score`` does);
* **climatology** (LOCO): the share of the other crises' events that happened (again
  ``(k + 0.5) / (n + 1)``, so it is never 0 or 1);
* **recalibrated** (LOCO): the logistic recalibration of ``sim.validation.recalibration``
  fitted on the other crises' events;
* **recalibrated + kind** (LOCO): the same with an offset per kind of event (war, agreement,
  asset, gate, control, refugees, sanctions, other), penalised so a rare kind is shrunk.

The recalibration used by ``sim run`` is the kind model only if it beats the plain one
leave-one-crisis-out on both the Brier and the log score, with a Brier gain whose crisis
bootstrap interval excludes 0 ("add predictors only if LOCO shows they help"); the choice
between two is itself made on these scores, so the chosen one's LOCO score is slightly
optimistic, which the table says.

Events within a crisis are not independent (one scenario, one history), so uncertainty is
measured by resampling whole crises: the crisis bootstrap draws ``len(crises)`` crises with
replacement (``BOOTSTRAP_DRAWS`` times, seed ``BOOTSTRAP_SEED``), pools their events and
recomputes every mean score and skill score; the interval is the 2.5% and 97.5% percentiles.
The LOCO forecasts are held fixed in the bootstrap (not refitted for each draw), so the
intervals measure the spread of scores over crises, not that of the fit.

The Murphy (1973) decomposition ``Brier = reliability - resolution + uncertainty`` is computed
over all events with ten equal forecast bins (``MURPHY_BINS``): reliability is the mean squared
gap between a bin's mean forecast and its observed frequency (0 is perfect), resolution how far
the bins' frequencies spread from the overall rate (higher is better), uncertainty the rate's
variance. With forecasts that differ within a bin the three terms do not add up to the Brier
score exactly; the remainder (``within_bins``) is reported with them.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from sim.validation.recalibration import CLIP, Fit, KindFit, fit, fit_kind
from sim.validation.scores import BRIER_UNINFORMED, LOG_UNINFORMED

BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 20240624
#: forecast bins of the Murphy decomposition and of the reliability diagram
MURPHY_BINS = tuple(np.round(np.linspace(0.0, 1.0, 11), 10))
FORECASTS = ("raw", "climatology", "recalibrated", "recalibrated_kind")
NAMES = {"raw": "raw model", "recalibrated": "recalibrated (LOCO)",
         "recalibrated_kind": "recalibrated + kind (LOCO)", "climatology": "climatology (LOCO)"}


# --------------------------------------------------------------------------- pieces


def event_table(crises: list[dict]) -> dict:
    """The library's events as arrays: crisis index, raw p, KT p (log score), outcome, kind."""
    crisis, p, p_log, y, kind = [], [], [], [], []
    for i, c in enumerate(crises):
        kinds = c.get("kinds") or {}
        for e in c["score"]["events"]:
            crisis.append(i)
            p.append(float(e["probability"]))
            runs, count = int(e["runs"]), int(e["count"])
            p_log.append((count + 0.5) / (runs + 1))
            y.append(bool(e["happened"]))
            kind.append(str(kinds.get(e["outcome"], "other")))
    return {"crisis": np.asarray(crisis, int), "p": np.asarray(p, float),
            "p_log": np.asarray(p_log, float), "y": np.asarray(y, bool),
            "kind": np.asarray(kind, str)}


def leave_one_crisis_out(crisis: np.ndarray, y: np.ndarray, fit_predict) -> np.ndarray:
    """Forecasts of every event by a model fitted without its crisis.

    Args:
        crisis: Crisis index of each event.
        y: Outcome of each event.
        fit_predict: ``fit_predict(train_mask, test_mask) -> forecasts of the test events``;
            it is given only the masks, and must use only the ``train_mask`` events' outcomes.

    Returns:
        One forecast per event (NaN for a crisis with no other crisis to learn from).
    """
    out = np.full(y.size, np.nan)
    for c in np.unique(crisis):
        test = crisis == c
        train = ~test
        if train.any():
            out[test] = fit_predict(train, test)
    return out


def climatology_loco(crisis: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each event forecast by the share of the other crises' events that happened (KT)."""
    return leave_one_crisis_out(
        crisis, y, lambda train, test: (y[train].sum() + 0.5) / (train.sum() + 1))


def recalibration_loco(crisis: np.ndarray, p: np.ndarray, y: np.ndarray
                       ) -> tuple[np.ndarray, dict[int, Fit]]:
    """Each event's recalibrated probability, fitted without its crisis; and the fits."""
    fits: dict[int, Fit] = {}

    def fit_predict(train, test):
        f = fit(p[train], y[train])
        fits[int(crisis[test][0])] = f
        return f.apply(p[test])

    return leave_one_crisis_out(crisis, y, fit_predict), fits


def recalibration_kind_loco(crisis: np.ndarray, p: np.ndarray, y: np.ndarray,
                            kind: np.ndarray) -> tuple[np.ndarray, dict[int, KindFit]]:
    """As ``recalibration_loco``, with an offset per kind of event."""
    fits: dict[int, KindFit] = {}

    def fit_predict(train, test):
        f = fit_kind(p[train], y[train], kind[train])
        fits[int(crisis[test][0])] = f
        return f.apply(p[test], kind[test])

    return leave_one_crisis_out(crisis, y, fit_predict), fits


def brier_scores(q: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-event Brier scores."""
    return (np.asarray(q, float) - np.asarray(y, float)) ** 2


def log_scores(q: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-event log scores (natural log; ``q`` must be inside (0, 1) for a finite score)."""
    q = np.asarray(q, float)
    with np.errstate(divide="ignore"):
        return -np.where(np.asarray(y, bool), np.log(q), np.log1p(-q))


def murphy(q, y, bins=MURPHY_BINS) -> dict:
    """Binned Murphy decomposition of the Brier score of forecasts ``q`` of outcomes ``y``.

    Returns:
        ``brier``, ``reliability``, ``resolution``, ``uncertainty``, ``within_bins`` (the
        Brier score minus ``reliability - resolution + uncertainty``), ``bins`` (the edges) and
        per non-empty bin ``rows``: low, high, count, mean forecast, observed frequency.
    """
    q, y = np.asarray(q, float), np.asarray(y, float)
    n = q.size
    rate = float(y.mean())
    rows, rel, res = [], 0.0, 0.0
    for k, (low, high) in enumerate(itertools.pairwise(bins)):
        last = k == len(bins) - 2
        inside = (q >= low) & ((q <= high) if last else (q < high))
        m = int(inside.sum())
        if not m:
            continue
        f, o = float(q[inside].mean()), float(y[inside].mean())
        rel += m * (f - o) ** 2
        res += m * (o - rate) ** 2
        rows.append({"low": float(low), "high": float(high), "count": m, "forecast": f,
                     "observed": o})
    brier = float(np.mean((q - y) ** 2))
    out = {"brier": brier, "reliability": rel / n, "resolution": res / n,
           "uncertainty": rate * (1 - rate), "bins": [float(b) for b in bins], "rows": rows}
    out["within_bins"] = brier - (out["reliability"] - out["resolution"] + out["uncertainty"])
    return out


def bootstrap_draws(n_crises: int, draws: int = BOOTSTRAP_DRAWS,
                    seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """``(draws, n_crises)`` crisis indices drawn with replacement (fixed seed)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_crises, size=(draws, n_crises))


def pooled_means(values: np.ndarray, crisis: np.ndarray, n_crises: int,
                 draws: np.ndarray) -> np.ndarray:
    """Mean of per-event ``values`` over the events of each draw's crises (event-weighted)."""
    sums = np.bincount(crisis, weights=values, minlength=n_crises)
    counts = np.bincount(crisis, minlength=n_crises).astype(float)
    return sums[draws].sum(axis=1) / counts[draws].sum(axis=1)


def interval(samples: np.ndarray) -> list[float]:
    """The central 95% percentile interval of bootstrap samples."""
    low, high = np.percentile(samples, [2.5, 97.5])
    return [float(low), float(high)]


# --------------------------------------------------------------------------- the whole


def cross_validate(crises: list[dict], *, draws: int = BOOTSTRAP_DRAWS,
                   seed: int = BOOTSTRAP_SEED) -> dict:
    """Raw, LOCO climatology and LOCO recalibrated scores, with crisis-bootstrap intervals.

    Args:
        crises: As ``validate_library`` gathers them: ``crisis``, ``scenario``, ``score``
            (a ``score.json`` content) and optionally ``scenario_file`` and ``kinds``
            (outcome -> kind of event).
        draws: Bootstrap draws.
        seed: Bootstrap seed.

    Returns:
        The ``cross_validation`` section of ``skill.json`` (see ``markdown_cv``).
    """
    kept = [c for c in crises if c["score"]["events"]]
    t = event_table(kept)
    crisis, p, y, kind = t["crisis"], t["p"], t["y"], t["kind"]
    n = len(kept)
    usable = n >= 2  # LOCO needs another crisis to learn from
    forecasts = {"raw": (p, t["p_log"])}
    fits: dict = {}
    if usable:
        clim = climatology_loco(crisis, y)
        recal, fits["recalibrated"] = recalibration_loco(crisis, p, y)
        recal_kind, fits["recalibrated_kind"] = recalibration_kind_loco(crisis, p, y, kind)
        forecasts.update(climatology=(clim, clim), recalibrated=(recal, recal),
                         recalibrated_kind=(recal_kind, recal_kind))
    per_event = {k: {"brier": brier_scores(b, y), "log_score": log_scores(lg, y)}
                 for k, (b, lg) in forecasts.items()}
    rows = []
    for i, c in enumerate(kept):
        mask = crisis == i
        row = {"crisis": c["crisis"], "scenario": c["scenario"],
               "scenario_file": c.get("scenario_file", ""), "events": int(mask.sum())}
        for k, fs in fits.items():
            row[f"loco_fit_{k}"] = fs[i].as_dict() if i in fs else None
        for k in forecasts:
            row[k] = {m: float(v[mask].mean()) for m, v in per_event[k].items()}
        rows.append(row)
    overall: dict = {"crises": n, "events": int(y.size), "happened": int(y.sum())}
    idx = bootstrap_draws(n, draws, seed)
    boot = {k: {m: pooled_means(v, crisis, n, idx) for m, v in per_event[k].items()}
            for k in forecasts}
    for k, scores in boot.items():
        entry = {}
        for m, samples in scores.items():
            base = BRIER_UNINFORMED if m == "brier" else LOG_UNINFORMED
            name = "brier_skill" if m == "brier" else "log_skill"
            entry[m] = float(per_event[k][m].mean())
            entry[f"{m}_interval"] = interval(samples)
            entry[name] = 1.0 - entry[m] / base
            entry[f"{name}_interval"] = interval(1.0 - samples / base)
        if usable and k != "climatology":
            c_b = boot["climatology"]["brier"]
            entry["brier_skill_climatology"] = 1.0 - entry["brier"] / float(
                per_event["climatology"]["brier"].mean())
            entry["brier_skill_climatology_interval"] = interval(1.0 - scores["brier"] / c_b)
        overall[k] = entry
    out = {"crises": rows, "overall": overall, "murphy": {},
           "bootstrap": {"draws": draws, "seed": seed, "unit": "crisis",
                         "interval": "2.5% and 97.5% percentiles"}, "clip": CLIP,
           "fit": fit(p, y).as_dict() if y.size else None,
           "fit_kind": fit_kind(p, y, kind).as_dict() if y.size else None}
    if y.size:
        out["murphy"]["raw"] = murphy(p, y)
    if not usable:
        return out
    overall["differences"] = {
        f"{a}-{b}": {m: {"mean": float((per_event[a][m] - per_event[b][m]).mean()),
                         "interval": interval(boot[a][m] - boot[b][m])}
                     for m in ("brier", "log_score")}
        for a, b in (("recalibrated", "raw"), ("recalibrated", "climatology"),
                     ("recalibrated_kind", "raw"), ("recalibrated_kind", "climatology"),
                     ("recalibrated_kind", "recalibrated"), ("raw", "climatology"))}
    # the kind model only if it clearly helps: better on both scores, and its Brier gain's
    # crisis-bootstrap interval excludes 0 (fitted on the first 7 crises, a kind model chosen
    # on its mean gain alone scored worse than the plain one on the 8 crises added after)
    plain, with_kind = overall["recalibrated"], overall["recalibrated_kind"]
    gain = overall["differences"]["recalibrated_kind-recalibrated"]["brier"]["interval"]
    helps = (with_kind["brier"] < plain["brier"] and with_kind["log_score"] < plain["log_score"]
             and gain[1] < 0)
    out["selected"] = "recalibrated_kind" if helps else "recalibrated"
    for k in ("recalibrated", "recalibrated_kind", "climatology"):
        out["murphy"][k] = murphy(forecasts[k][0], y)
    out["forecasts"] = [{"crisis": kept[int(i)]["crisis"], "kind": str(kd), "raw": float(a),
                         "recalibrated": float(b), "recalibrated_kind": float(bk),
                         "climatology": float(c), "happened": bool(h)}
                        for i, kd, a, b, bk, c, h in zip(crisis, kind, p, recal, recal_kind,
                                                         clim, y, strict=True)]
    return out


# --------------------------------------------------------------------------- presentation


def _ci(entry: dict, key: str, fmt: str) -> str:
    low, high = entry[f"{key}_interval"]
    return f"{entry[key]:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def _diff(d: dict) -> str:
    low, high = d["interval"]
    return f"{d['mean']:+.3f} [{low:+.3f}, {high:+.3f}]"


def markdown_cv(cv: dict) -> str:
    """Raw and cross-validated rows side by side, the Murphy terms, and what to trust."""
    o = cv["overall"]
    lines = [f"### Cross-validated (leave one crisis out): {o['crises']} crises, "
             f"{o['events']} events", ""]
    if "selected" not in cv:
        lines.append("Cross-validation needs at least two crises with events.")
        return "\n".join(lines)
    lines += ["| crisis | events | Brier raw | recalibrated | + kind | climatology | log raw | "
              "recalibrated | + kind | climatology | held-out slope |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in cv["crises"]:
        fit_ = r.get("loco_fit_recalibrated")
        cells = [f"{r[k]['brier']:.3f}" for k in ("raw", "recalibrated", "recalibrated_kind",
                                                  "climatology")]
        cells += [f"{r[k]['log_score']:.3f}" for k in ("raw", "recalibrated",
                                                       "recalibrated_kind", "climatology")]
        slope = "–" if fit_ is None else format(fit_["slope"], ".2f")
        lines.append(f"| `{r['crisis']}` | {r['events']} | {' | '.join(cells)} | {slope} |")
    lines += ["", "| forecast (all events) | Brier [95% CI] | log score [95% CI] | Brier skill "
              "vs p = 0.5 | Brier skill vs climatology |", "|---|---|---|---|---|"]
    for k in ("raw", "recalibrated", "recalibrated_kind", "climatology"):
        e = o[k]
        vs_clim = _ci(e, "brier_skill_climatology", "+.2f") if "brier_skill_climatology" in e \
            else "–"
        used = " **(used by sim run)**" if k == cv["selected"] else ""
        lines.append(f"| {NAMES[k]}{used} | {_ci(e, 'brier', '.3f')} | "
                     f"{_ci(e, 'log_score', '.3f')} | {_ci(e, 'brier_skill', '+.2f')} | "
                     f"{vs_clim} |")
    d = o["differences"]
    lines += ["", "| Murphy decomposition | Brier | reliability | resolution | uncertainty | "
              "within bins |", "|---|---:|---:|---:|---:|---:|"]
    for k in ("raw", "recalibrated", "recalibrated_kind", "climatology"):
        m = cv["murphy"][k]
        lines.append(f"| {NAMES[k]} | {m['brier']:.3f} | {m['reliability']:.3f} | "
                     f"{m['resolution']:.3f} | {m['uncertainty']:.3f} | "
                     f"{m['within_bins']:+.3f} |")
    f, fk = cv["fit"], cv["fit_kind"]
    offsets = ", ".join(f"{k} {v:+.2f}" for k, v in sorted(fk["offsets"].items()))
    lines += ["", trust_words(cv), "",
              f"Recalibration: calibrated = expit(a + b logit(p)), p held within "
              f"[{cv['clip']:g}, {1 - cv['clip']:g}], fitted by maximum likelihood on all "
              f"{f['events']} events: slope b = {f['slope']:.2f}, intercept a = "
              f"{f['intercept']:+.2f} (b = 1 and a = 0 would leave the model's probabilities "
              "as they are; b below 1 shrinks them toward the base rate). With kind: an "
              "offset per kind of event (penalised, L2 with C = 1): slope "
              f"{fk['slope']:.2f}, intercept {fk['intercept']:+.2f}, offsets {offsets}. "
              "LOCO: each crisis is forecast by recalibrations and a climatology fitted on the "
              "other crises only; the kind model is used only if it beats the plain one on both "
              "scores with a Brier gain whose interval excludes 0 (a choice made on these same "
              "scores, so the used row is slightly optimistic). Intervals: crisis bootstrap "
              f"({cv['bootstrap']['draws']} draws of "
              f"{o['crises']} crises with replacement, seed {cv['bootstrap']['seed']}; the "
              "LOCO forecasts held fixed). Murphy terms over all events, ten equal forecast "
              "bins [0, 0.1), ..., [0.9, 1]; 'within bins' is what the binned terms leave of "
              "the Brier score. Differences in Brier (negative: the first is better): "
              f"recalibrated - raw {_diff(d['recalibrated-raw']['brier'])}, recalibrated - "
              f"climatology {_diff(d['recalibrated-climatology']['brier'])}, + kind - raw "
              f"{_diff(d['recalibrated_kind-raw']['brier'])}, + kind - climatology "
              f"{_diff(d['recalibrated_kind-climatology']['brier'])}, + kind - recalibrated "
              f"{_diff(d['recalibrated_kind-recalibrated']['brier'])}. "
              "Reliability diagram: reliability.png beside skill.md."]
    return "\n".join(lines)


def _verdict(diff: dict, better: str, worse: str, same: str) -> str:
    low, high = diff["interval"]
    return better if high < 0 else worse if low > 0 else same


def trust_words(cv: dict) -> str:
    """A paragraph in plain words: how far to trust the raw and calibrated probabilities."""
    o, d = cv["overall"], cv["overall"]["differences"]
    m = cv["murphy"]["raw"]
    slope = cv["fit"]["slope"]
    chosen = cv["selected"]
    raw = ("the model's own probabilities are overconfident" if slope < 0.8 else
           "the model's own probabilities are about as confident as they should be"
           if slope <= 1.25 else "the model's own probabilities are underconfident")
    vs_raw = _verdict(d[f"{chosen}-raw"]["brier"], "clearly better than",
                      "clearly worse than", "not clearly different from")
    vs_clim = _verdict(d[f"{chosen}-climatology"]["brier"], "beat",
                       "do worse than", "do not clearly beat")
    info = ("carry little information beyond the base rate" if slope < 0.3 else
            "carry some information beyond the base rate" if slope < 0.8 else
            "carry real information")
    which = ("with an offset per kind of event (it clearly beat the plain recalibration "
             "leave one crisis out)" if chosen == "recalibrated_kind" else
             "(an offset per kind of event did not clearly help leave one crisis out, so none "
             "is used)")
    e = o[chosen]
    return (f"**How far to trust the probabilities.** On {o['crises']} crises and "
            f"{o['events']} events, {raw}: the recalibration fitted on the library has slope "
            f"{slope:.2f}, i.e. the raw probabilities {info}; their reliability term is "
            f"{m['reliability']:.3f} against a resolution of {m['resolution']:.3f}. The "
            f"calibrated probabilities shown by sim run are recalibrated {which}. Scored on "
            f"crises they were not fitted on (Brier {e['brier']:.3f}, log score "
            f"{e['log_score']:.3f}), they are {vs_raw} the raw ones and {vs_clim} climatology "
            "(the other crises' base rate), by crisis bootstrap intervals. Read a raw "
            "probability as the scenario's internal logic, not as odds; read a calibrated one "
            "as the library's track record applied to it: a rough guide, with intervals wide "
            "because the crises are few.")


def reliability_figure(cv: dict, path: Path) -> Path | None:
    """Reliability diagram of all events, raw and LOCO recalibrated, saved to ``path``."""
    if "forecasts" not in cv:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.execution.storage import save_figure

    fig, ax = plt.subplots(figsize=(5.2, 4.8), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="calibrated")
    styles = {"raw": ("#b45f06", "o-", "raw model"),
              cv["selected"]: ("#0b5394", "s-", NAMES[cv["selected"]])}
    for k, (color, marker, label) in styles.items():
        rows = cv["murphy"][k]["rows"]
        ax.plot([r["forecast"] for r in rows], [r["observed"] for r in rows], marker,
                color=color, label=label)
        for r in rows:
            ax.annotate(f"{r['count']}", (r["forecast"], r["observed"]), fontsize=7,
                        color=color, xytext=(4, -9), textcoords="offset points")
    ys = [1.0 if f["happened"] else 0.0 for f in cv["forecasts"]]
    ax.scatter([f["raw"] for f in cv["forecasts"]], ys, s=10, color="#b45f06", alpha=0.3)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("forecast probability")
    ax.set_ylabel("observed frequency")
    o = cv["overall"]
    ax.set_title(f"Reliability over {o['events']} events of {o['crises']} crises\n"
                 "(10 equal bins; numbers: events in the bin)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_figure(fig, path, path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path
