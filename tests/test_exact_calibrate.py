"""Exact behaviour of ``sim calibrate``'s files and bookkeeping (``sim/validation/calibrate.py``,
issue 28).

What is fitted (the distance, the target at a cutoff), the size check, the saved generations and
settings read back to resume (every refusal's message), the folder test, the posterior's file,
its summary and figure, and the command itself with a stand-in simulator (a fixed function of
the values, so a calibration takes milliseconds): its files and diagnostics against an
independent loop of ``sim.validation.abc_smc``, progress, resuming after Ctrl-C. One test runs
the real lockstep simulator on a few replications. These are the tests ``scripts/mutation.py``
runs the module's mutants against.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import shutil
import time
from typing import ClassVar

import numpy as np
import pytest
import yaml

from sim.errors import UsageError
from sim.execution.variation import PROBE_QUANTILES as PROBES
from sim.scenario.schema import Prior
from sim.validation import calibrate as module
from sim.validation.abc_smc import ABCSMC, Generation, Settings, next_tolerance
from sim.validation.calibrate import (
    MISSING,
    Target,
    build_target,
    calibrate,
    check_sizes,
    read_posterior,
)
from sim.validation.observations import load_observations
from tests.conftest import FICTIONAL, SCENARIOS

# --------------------------------------------------------------------------- the distance


def test_the_distance_counts_mismatched_events_and_scaled_misses():
    """Events: 1 per mismatch (a day column is NaN when the event never happened). Quantities:
    the miss of [lo, hi] over the scale, 0 inside, MISSING (1e6) without a value."""
    target = Target(scenario=None, events=[("day.a", 1.0), ("day.b", 0.0)],
                    quantities=[("q", 10.0, 30.0, 20.0), ("r", -0.4, -0.4, 1.0)])
    columns = {"day.a": np.array([3.0, np.nan, 0.0, np.nan]),
               "day.b": np.array([np.nan, 5.0, np.nan, 1.0]),
               "q": np.array([20.0, 5.0, 40.0, np.nan]),
               "r": np.array([-0.4, 0.6, -1.4, 0.0])}
    # run 0: all match, 20 inside [10, 30], r exact -> 0
    # run 1: a missed (1), b happened (1), 5 is 5 below 10 -> 0.25, r 1.0 above -> 1.0
    # run 2: both events right, 40 is 10 above 30 -> 0.5, r 1.0 below -> 1.0
    # run 3: a missed, b happened, q has no value -> 1e6, r 0.4 above -> 0.4
    expected = [0.0, 1 + 1 + 0.25 + 1.0, 0.5 + 1.0, 1 + 1 + MISSING + 0.4]
    np.testing.assert_allclose(target.distances(columns), expected, rtol=1e-15)
    assert MISSING == 1e6
    only_events = Target(None, [("day.a", 0.0)], [])
    assert only_events.distances({"day.a": [1.0, np.nan]}).tolist() == [1.0, 0.0]


# --------------------------------------------------------------------------- the target


def _observations_file(tmp_path, cutoff="2031-05-31"):
    """The fictional scenario with two more outcomes of the war's day column, observed."""
    data = yaml.safe_load(FICTIONAL.read_text())
    data["outcomes"]["war_b"] = data["outcomes"]["war"]
    data["outcomes"]["war_c"] = data["outcomes"]["war"]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    text = f"""scenario: s.yaml
description: test
{f"cutoff: {cutoff}" if cutoff else ""}
events:
  - {{outcome: war, happened: true, date: 2031-05-31, source: a}}
  - {{outcome: split, happened: true, date: 2031-06-20, source: b}}
  - {{outcome: shield, happened: false, source: c}}
  - {{outcome: war_b, happened: true, source: d}}
  - {{outcome: war_c, happened: false, source: e}}
quantities:
  - {{indicator: losses.arcadia, interval: [10, 30], window: [2031-05-01, 2031-05-31],
     source: g}}
  - {{indicator: losses.borduria, value: -0.4, window: [2031-05-01, 2031-05-20], source: h}}
  - {{indicator: losses.corvalia, value: 3, window: [2031-05-01, 2031-06-01], source: i}}
  - {{indicator: control.valley.borduria.final, value: 0.25, source: j}}
"""
    path = tmp_path / "o.yaml"
    path.write_text(text)
    return path


def test_the_target_at_a_cutoff_is_what_was_known_by_then(tmp_path):
    """Cutoff 31 May, start 1 May: 31 days simulated. Events: known as happened only when
    dated by the cutoff; events without a day column (shield) are not fitted. Quantities:
    only windows ending by the cutoff; the scale is |mid| at least 1."""
    obs = load_observations(_observations_file(tmp_path))
    target = build_target(obs)
    assert target.scenario.spec.run.days == 31
    assert target.events == [("day.war.arcadia~borduria", 1.0),  # on the cutoff: known
                             ("day.agreement.valley_split", 0.0),  # after it
                             ("day.war.arcadia~borduria", 0.0),  # no date: not known when
                             ("day.war.arcadia~borduria", 0.0)]
    assert target.quantities == [("losses.arcadia", 10.0, 30.0, 20.0),
                                 ("losses.borduria", -0.4, -0.4, 1.0)]
    assert target.scenario.uncertain is obs.scenario.uncertain


def test_the_target_without_a_cutoff_is_every_observation(tmp_path):
    obs = load_observations(_observations_file(tmp_path, cutoff=None))
    target = build_target(obs)
    assert target.scenario is obs.scenario and target.scenario.spec.run.days == 60
    assert [y for _, y in target.events] == [1.0, 1.0, 1.0, 0.0]
    assert target.quantities == [("losses.arcadia", 10.0, 30.0, 20.0),
                                 ("losses.borduria", -0.4, -0.4, 1.0),
                                 ("losses.corvalia", 3.0, 3.0, 3.0),
                                 ("control.valley.borduria.final", 0.25, 0.25, 1.0)]


def test_a_cutoff_on_the_last_day_or_later_simulates_the_whole_horizon(tmp_path):
    obs = load_observations(_observations_file(tmp_path, cutoff="2031-06-28"))
    assert build_target(obs).scenario.spec.run.days == 59  # days 0 (1 May) to 58 (28 June)
    obs = load_observations(_observations_file(tmp_path, cutoff="2031-06-30"))
    assert build_target(obs).scenario.spec.run.days == 60  # 61 days to it: the run's 60
    obs = load_observations(_observations_file(tmp_path, cutoff="2031-05-01"))
    assert build_target(obs).scenario.spec.run.days == 1


def test_a_cutoff_before_the_start_or_with_nothing_known_is_refused(tmp_path):
    obs = load_observations(_observations_file(tmp_path))
    obs.spec = obs.spec.model_copy(update={"cutoff": dt.date(2031, 4, 30)})  # the loader
    with pytest.raises(UsageError) as excinfo:  # refuses it: build_target checks it too
        build_target(obs)
    assert str(excinfo.value) == ("cutoff 2031-04-30 is before the start date: nothing to "
                                  "calibrate on")
    path = tmp_path / "none.yaml"
    path.write_text("scenario: s.yaml\ndescription: t\ncutoff: 2031-05-05\nquantities:\n"
                    "  - {indicator: losses.arcadia, value: 3, window: [2031-05-01, "
                    "2031-05-10], source: x}\n")
    with pytest.raises(UsageError) as excinfo:
        build_target(load_observations(path))
    assert str(excinfo.value) == (f"{path}: no observation to calibrate on by the cutoff "
                                  "2031-05-05 (quantities need a window ending by then; "
                                  "events a day column)")
    path.write_text("scenario: s.yaml\ndescription: t\nevents:\n"
                    "  - {outcome: shield, happened: false, source: c}\n")
    with pytest.raises(UsageError) as excinfo:
        build_target(load_observations(path))
    assert str(excinfo.value) == f"{path}: no observation to calibrate on"


def test_a_quantity_not_known_by_the_cutoff_does_not_end_the_list(tmp_path):
    """Quantities whose window ends after the cutoff (or that have none) are skipped one by
    one: those after them in the file, known by the cutoff, are still fitted."""
    obs = load_observations(_observations_file(tmp_path))
    order = [obs.spec.quantities[i] for i in (2, 0, 3, 1)]  # corvalia (ends 1 June) and the
    obs.spec = obs.spec.model_copy(update={"quantities": order})  # windowless one first
    assert [q.indicator for q in obs.spec.quantities] == [
        "losses.corvalia", "losses.arcadia", "control.valley.borduria.final", "losses.borduria"]
    assert build_target(obs).quantities == [("losses.arcadia", 10.0, 30.0, 20.0),
                                            ("losses.borduria", -0.4, -0.4, 1.0)]


def test_dated_events_after_the_cutoff_are_left_out_of_the_truncated_run():
    obs = load_observations(SCENARIOS / "calibration" / "idlib_2020_early.observations.yaml")
    cutoff = obs.spec.cutoff
    before = [ev.date for ev in obs.scenario.spec.timeline]
    assert cutoff in before and any(d > cutoff for d in before)
    target = build_target(obs)
    assert [ev.date for ev in target.scenario.spec.timeline] == [d for d in before
                                                                if d <= cutoff]
    assert target.scenario.spec.run.days == (cutoff - obs.start).days + 1


# --------------------------------------------------------------------------- sizes


def test_the_largest_budget_a_generation_file_can_hold():
    """(J + 2) x 26 + 8 characters a row; (200 MB - 4096) // that rows."""
    most_1 = (200_000_000 - 4096) // (3 * 26 + 8)
    most_2 = (200_000_000 - 4096) // (4 * 26 + 8)
    assert (most_1, most_2) == (2_325_533, 1_785_677)
    check_sizes(Settings(10, most_1, 3, 0.0, 0.01, 1), 1)
    check_sizes(Settings(10, most_2, 3, 0.0, 0.01, 1), 2)
    with pytest.raises(UsageError) as excinfo:
        check_sizes(Settings(10, most_1 + 1, 3, 0.0, 0.01, 1), 1)
    assert str(excinfo.value) == ("--simulations 2325534 is more than a calibration of 1 value "
                                  "can save and resume (at most 2325533); give a smaller "
                                  "--simulations")
    with pytest.raises(UsageError) as excinfo:
        check_sizes(Settings(10, most_2 + 1, 3, 0.0, 0.01, 1), 2)
    assert str(excinfo.value) == ("--simulations 1785678 is more than a calibration of 2 values "
                                  "can save and resume (at most 1785677); give a smaller "
                                  "--simulations")
    check_sizes(Settings(100, 100, 3, 0.0, 0.01, 1), 2)
    with pytest.raises(UsageError) as excinfo:
        check_sizes(Settings(101, 100, 3, 0.0, 0.01, 1), 2)
    assert str(excinfo.value) == ("--population 101 is more than the budget of --simulations "
                                  "100; give a smaller --population")


# --------------------------------------------------------------------------- saved generations


def test_the_header_allowance_is_exactly_4096_bytes():
    """With 637 values a row is (637 + 2) x 26 + 8 = 16,622 characters, which divides
    200 MB - 4096 exactly: 12,032 rows fit, 12,033 do not (an allowance one byte larger
    would fit only 12,031)."""
    assert (200_000_000 - 4096) % 16_622 == 0 and (200_000_000 - 4096) // 16_622 == 12_032
    check_sizes(Settings(10, 12_032, 3, 0.0, 0.01, 1), 637)
    with pytest.raises(UsageError, match=r"at most 12032\)"):
        check_sizes(Settings(10, 12_033, 3, 0.0, 0.01, 1), 637)


def _gen(t=0, eps=math.inf, samples=((0.1, 1.0), (0.2, 1.5)), weights=(0.5, 0.5),
         distances=(0.3, 0.4), simulations=2, total=2, complete=True, kernel=None) -> Generation:
    return Generation(t, eps, np.array(samples, float), np.array(weights, float),
                      np.array(distances, float), simulations, total, 1.5, 1.25, complete,
                      kernel or ("prior" if t == 0 else "olcm"))


def _write(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def test_a_saved_generation_reads_back_as_it_was_written(tmp_path):
    for gen in (_gen(), _gen(t=1, eps=0.45, simulations=5, total=7, complete=False)):
        back = module._read_generation(_write(tmp_path / f"{gen.t:03d}.json", gen.record()), 2)
        assert back.record() == gen.record()
        assert (back.t, back.epsilon, back.complete, back.kernel) == (
            gen.t, gen.epsilon, gen.complete, gen.kernel)
        assert back.samples.shape == (2, 2)


@pytest.mark.parametrize("change", [
    {"samples": [[0.1, 1.0], [0.2]]}, {"weights": "x"}, {"epsilon": "inf?"},
    {"t": None}, {"total": [1]}, {"kernel": None, "t": "a"},
])
def test_a_generation_that_is_not_one_is_refused(tmp_path, change):
    record = {**_gen().record(), **change}
    path = _write(tmp_path / "000.json", record)
    with pytest.raises(UsageError) as excinfo:
        module._read_generation(path, 2)
    assert str(excinfo.value) == (f"{path}: not a generation written by sim calibrate; choose "
                                  "another --out")


def test_unreadable_generation_files_are_refused(tmp_path):
    for path, content in ((tmp_path / "a.json", b"\xff\xfe"), (tmp_path / "b.json", b"[1, 2]"),
                          (tmp_path / "c.json", b"{}")):
        path.write_bytes(content)
        with pytest.raises(UsageError, match="not a generation written by sim calibrate"):
            module._read_generation(path, 2)
    folder = tmp_path / "d.json"
    folder.mkdir()
    with pytest.raises(UsageError, match="not a generation written by sim calibrate"):
        module._read_generation(folder, 2)
    record = _gen().record()
    del record["simulation_seconds"]
    with pytest.raises(UsageError, match="not a generation written by sim calibrate"):
        module._read_generation(_write(tmp_path / "e.json", record), 2)


@pytest.mark.parametrize("change", [
    {"weights": [0.5]}, {"distances": [0.3]}, {"samples": [[0.1, 1.0]]},
    {"samples": [[0.1, float("nan")], [0.2, 1.5]]}, {"weights": [0.5, float("inf")]},
    {"weights": [0.5, -0.1]}, {"distances": [0.3, float("nan")]},
    {"simulations": 3, "total": 2}, {"simulations": -1, "total": 0},
])
def test_a_damaged_generation_is_refused(tmp_path, change):
    path = _write(tmp_path / "000.json", {**_gen().record(), **change})
    with pytest.raises(UsageError) as excinfo:
        module._read_generation(path, 2)
    assert str(excinfo.value) == (f"{path}: a damaged generation of sim calibrate; choose "
                                  "another --out")


def test_edge_generations_are_read(tmp_path):
    gen = module._read_generation(_write(tmp_path / "000.json", {
        **_gen().record(), "weights": [0.0, 1.0], "simulations": 0, "total": 0}), 2)
    assert gen.weights.tolist() == [0.0, 1.0] and gen.simulations == 0


def test_the_generations_folder_is_made_and_never_a_symlink_or_a_file(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    assert module.generations_folder(out) == out / "generations"
    assert (out / "generations").is_dir()
    assert module.generations_folder(out) == out / "generations"  # already there
    for kind in ("file", "symlink"):
        other = tmp_path / kind
        other.mkdir()
        if kind == "file":
            (other / "generations").write_text("")
        else:
            (other / "generations").symlink_to(out / "generations")
        with pytest.raises(UsageError) as excinfo:
            module.generations_folder(other)
        assert str(excinfo.value) == (f"{other / 'generations'} is a symlink or a file, not a "
                                      "folder of sim calibrate; choose another --out")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "generations").symlink_to(tmp_path / "nowhere")
    with pytest.raises(UsageError, match="is a symlink or a file"):
        module.generations_folder(broken)

    def fail(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(out), "mkdir", fail)
    with pytest.raises(UsageError) as excinfo:
        module.generations_folder(tmp_path / "new")
    assert str(excinfo.value) == (f"cannot create {tmp_path / 'new' / 'generations'}: "
                                  "Permission denied")


# --------------------------------------------------------------------------- resuming


PRIORS = [Prior(dist="uniform", low=0.0, high=1.0), Prior(dist="uniform", low=1.0, high=2.0)]
SETTINGS = {"a": 1, "generations": 3, "simulations": 20}


def _folder(tmp_path, settings=SETTINGS, gens=()):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    (out / "settings.json").write_text(json.dumps(settings))
    for gen in gens:
        _write(out / "generations" / f"{gen.t:03d}.json", gen.record())
    return out


def test_a_fresh_folder_resumes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert module._resume(out, SETTINGS, PRIORS) == []
    (out / "generations").mkdir()
    with pytest.raises(UsageError) as excinfo:
        module._resume(out, SETTINGS, PRIORS)
    assert str(excinfo.value) == (f"{out} holds generations without settings.json; choose "
                                  "another --out")


def test_saved_generations_are_resumed_in_order_up_to_the_first_missing(tmp_path):
    g0 = _gen(weights=(1.0, 3.0))
    g1 = _gen(t=1, eps=0.45, simulations=5, total=7)
    g3 = _gen(t=3, eps=0.4, simulations=5, total=17)
    out = _folder(tmp_path, gens=(g0, g1, g3))
    gens = module._resume(out, SETTINGS, PRIORS)
    assert [g.t for g in gens] == [0, 1]
    assert gens[0].weights.tolist() == [0.25, 0.75]  # normalised by the check
    g2 = _gen(t=2, eps=0.4, simulations=5, total=12)
    _write(out / "generations" / "002.json", g2.record())
    assert [g.t for g in module._resume(out, SETTINGS, PRIORS)] == [0, 1, 2]
    settings = {**SETTINGS, "generations": 2}
    (out / "settings.json").write_text(json.dumps(settings))
    assert [g.t for g in module._resume(out, settings, PRIORS)] == [0, 1]


def test_a_generation_in_the_wrong_file_is_refused(tmp_path):
    out = _folder(tmp_path)
    path = _write(out / "generations" / "000.json", _gen(t=1, eps=0.4).record())
    with pytest.raises(UsageError) as excinfo:
        module._resume(out, SETTINGS, PRIORS)
    assert str(excinfo.value) == (f"{path}: generation 1 in the file of 0; choose another "
                                  "--out")


def test_a_symlinked_generation_is_read_as_any_file(tmp_path):
    out = _folder(tmp_path)
    real = _write(tmp_path / "real.json", _gen().record())
    (out / "generations").mkdir()
    (out / "generations" / "000.json").symlink_to(real)
    assert [g.t for g in module._resume(out, SETTINGS, PRIORS)] == [0]
    (out / "generations" / "001.json").symlink_to(tmp_path / "nowhere")
    with pytest.raises(UsageError, match=r"001\.json: not a generation written by sim calibrate"):
        module._resume(out, SETTINGS, PRIORS)


def test_unreadable_or_other_settings_are_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    saved = out / "settings.json"
    saved.write_text("{not json")
    with pytest.raises(UsageError) as excinfo:
        module._resume(out, SETTINGS, PRIORS)
    assert str(excinfo.value) == f"{saved}: unreadable; choose another --out"
    saved.unlink()
    saved.mkdir()
    with pytest.raises(UsageError) as excinfo:
        module._resume(out, SETTINGS, PRIORS)
    assert str(excinfo.value) == (f"{saved}: unreadable (a folder, not a regular file); choose "
                                  "another --out")
    saved.rmdir()
    saved.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UsageError) as excinfo:
        module._resume(out, SETTINGS, PRIORS)
    assert str(excinfo.value) == f"{saved}: unreadable; choose another --out"
    saved.unlink()
    saved.write_text("[1]")
    with pytest.raises(UsageError) as excinfo:
        module._resume(out, SETTINGS, PRIORS)
    assert str(excinfo.value) == (f"{saved}: not the settings of sim calibrate; choose another "
                                  "--out")
    saved.write_text(json.dumps({"a": 2, "generations": 3, "extra": 1, "k" * 50: 0}))
    with pytest.raises(UsageError) as excinfo:
        module._resume(out, SETTINGS, PRIORS)
    assert str(excinfo.value) == (f"{out} holds an unfinished calibration with other settings "
                                  f"(a, extra, {'k' * 40}, simulations); re-run it with the same "
                                  "ones to resume, or choose another --out")
    many = {f"k{i}": i for i in range(10)}
    saved.write_text(json.dumps(many))
    with pytest.raises(UsageError) as excinfo:
        module._resume(out, {}, PRIORS)
    assert str(excinfo.value) == (f"{out} holds an unfinished calibration with other settings "
                                  "(k0, k1, k2, k3, k4, k5, k6, k7); re-run it with the same "
                                  "ones to resume, or choose another --out")


def test_only_a_calibrations_own_files_make_a_folder_of_one(tmp_path):
    def folder(*files, generations=None):
        out = tmp_path / f"f{len(list(tmp_path.iterdir()))}"
        out.mkdir()
        for name in files:
            (out / name).write_text("")
        if generations is not None:
            (out / "generations").mkdir()
            for name in generations:
                (out / "generations" / name).write_text("")
        return out

    assert module._calibration_folder(folder("settings.json")) is True
    assert module._calibration_folder(folder(
        "settings.json", "calibration.json", "calibration.png", "posterior.json", ".lock",
        generations=["000.json", "001.json"])) is True
    assert module._calibration_folder(folder("calibration.json")) is False
    assert module._calibration_folder(folder("settings.json", "notes.txt")) is False
    assert module._calibration_folder(folder("settings.json", generations=["a.json"])) is False
    assert module._calibration_folder(folder("settings.json", generations=["000.txt"])) is False
    assert module._calibration_folder(folder("settings.json", generations=[])) is True
    linked = folder("settings.json")
    (linked / "posterior.json").symlink_to(linked / "settings.json")
    assert module._calibration_folder(linked) is False
    sub = folder("settings.json")
    (sub / "calibration.json").mkdir()
    assert module._calibration_folder(sub) is False
    gens_link = folder("settings.json")
    (gens_link / "generations").symlink_to(tmp_path)
    assert module._calibration_folder(gens_link) is False
    gens_file = folder("settings.json", "generations")
    assert module._calibration_folder(gens_file) is False


@pytest.mark.parametrize(("gens", "bad"), [
    ([_gen(weights=(), samples=np.zeros((0, 2)), distances=())], "no particles"),
    ([_gen(weights=(0.0, 0.0))], "weights that do not sum to a positive number"),
    ([_gen(weights=(1e308, 1e308))], "weights that do not sum to a positive number"),
    ([_gen(samples=((0.1, 1.0), (1.1, 1.5)))], "samples outside the priors' support"),
    ([_gen(samples=((-0.1, 1.0), (0.1, 1.5)))], "samples outside the priors' support"),
    ([_gen(samples=((0.1, 2.5), (0.1, 1.5)))], "samples outside the priors' support"),
    ([_gen(samples=((0.1, 0.5), (0.1, 1.5)))], "samples outside the priors' support"),
    ([_gen(), _gen(t=1, eps=0.35, total=4)], "distances above its tolerance"),
    ([_gen(t=0, eps=0.5), _gen(t=1, eps=0.6, total=4)],
     "a tolerance above the previous generation's"),
    ([_gen(kernel="olcm")], "a kernel ('olcm') sim calibrate does not use there"),
    ([_gen(), _gen(t=1, eps=0.5, total=4, kernel="prior")],
     "a kernel ('prior') sim calibrate does not use there"),
    ([_gen(), _gen(t=1, eps=0.5, total=4, kernel="x" * 30)],
     f"a kernel ({'x' * 20!r}) sim calibrate does not use there"),
    ([_gen(total=3)], "simulations that do not add up"),
    ([_gen(), _gen(t=1, eps=0.5, total=5)], "simulations that do not add up"),
    ([_gen(simulations=21, total=21)], "simulations that do not add up"),
    ([_gen(complete=False)], "an incomplete generation first (generation 0 is always complete)"),
    ([_gen(), _gen(t=1, eps=0.5, total=4, complete=False), _gen(t=2, eps=0.5, total=6)],
     "an incomplete generation before the last"),
])
def test_saved_generations_this_calibration_could_not_have_written_are_refused(tmp_path, gens,
                                                                              bad):
    out = tmp_path / "out"
    where = out / "generations" / f"{gens[-1].t:03d}.json"
    if bad.startswith("an incomplete generation before"):
        where = out / "generations" / "001.json"
    with pytest.raises(UsageError) as excinfo:
        module._check_generations(out, gens, PRIORS, SETTINGS)
    assert str(excinfo.value) == (f"{where}: a damaged generation of sim calibrate ({bad}); "
                                  "choose another --out")


def test_saved_generations_it_could_have_written_pass_and_are_normalised(tmp_path):
    gens = [_gen(weights=(1.0, 1.0)), _gen(t=1, eps=0.4, total=4, kernel="2cov",
                                          weights=(0.0, 2.0)),
            _gen(t=2, eps=0.4, total=20, simulations=16, complete=False,
                 samples=((0.0, 1.0), (1.0, 2.0)), distances=(0.4, 0.4))]
    module._check_generations(tmp_path, gens, PRIORS, SETTINGS)
    assert [g.weights.tolist() for g in gens] == [[0.5, 0.5], [0.0, 1.0], [0.5, 0.5]]


# --------------------------------------------------------------------------- the posterior


def test_a_posterior_summary_is_its_weighted_mean_and_quantiles():
    x = np.array([4.0, 1.0, 3.0, 2.0, 5.0])
    w = np.array([0.1, 0.02, 0.5, 0.08, 0.3])
    # sorted: 1 (0.02), 2 (0.10), 3 (0.60), 4 (0.70), 5 (1.00) cumulative
    assert module._summary(x, w) == {"mean": pytest.approx(0.4 + 0.02 + 1.5 + 0.16 + 1.5),
                                     "q05": 2.0, "median": 3.0, "q95": 5.0}
    assert module._summary(x, w)["mean"] == float(np.sum(w * x))


def _posterior(tmp_path, data, name="p.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_a_posterior_file_is_read_and_its_weights_normalised_from_the_largest(tmp_path):
    path = _posterior(tmp_path, {"parameters": ["a", "b"], "samples": [[1, 2], [3, 4]],
                                 "weights": [1e308, 1e308], "scenario_sha256": "abc"})
    got = read_posterior(str(path))
    assert got["parameters"] == ["a", "b"] and got["scenario_sha256"] == "abc"
    assert got["samples"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert got["weights"].tolist() == [0.5, 0.5]
    path = _posterior(tmp_path, {"parameters": ["a"], "samples": [[1], [2], [3]],
                                 "weights": [1, 0, 3], "scenario_sha256": 5})
    got = read_posterior(path)
    assert got["weights"].tolist() == [0.25, 0.0, 0.75] and got["scenario_sha256"] is None
    path = _posterior(tmp_path, {"parameters": ["a"], "samples": [[1], [2]],
                                 "weights": ["1", "3"]})  # numbers as text: read as numbers
    assert read_posterior(path)["weights"].tolist() == [0.25, 0.75]


@pytest.mark.parametrize(("data", "why"), [
    ("not json", "not a posterior written by sim calibrate (needs parameters, samples and "
                 "weights)"),
    ("[1, 2]", "not a posterior written by sim calibrate (needs parameters, samples and "
               "weights)"),
    ({"parameters": ["a"], "samples": [[1]]},
     "not a posterior written by sim calibrate (needs parameters, samples and weights)"),
    ({"parameters": ["a"], "samples": [[1], [1, 2]], "weights": [1, 1]},
     "not a posterior written by sim calibrate (needs parameters, samples and weights)"),
    ({"parameters": ["a"], "samples": [["x"]], "weights": [1]},
     "not a posterior written by sim calibrate (needs parameters, samples and weights)"),
    ({"parameters": "a", "samples": [[1]], "weights": [1]},
     "'parameters' must be a list of scenario paths"),
    ({"parameters": [], "samples": [[1]], "weights": [1]},
     "'parameters' must be a list of scenario paths"),
    ({"parameters": ["a", 1], "samples": [[1, 2]], "weights": [1]},
     "'parameters' must be a list of scenario paths"),
    ({"parameters": ["a"], "samples": [1, 2], "weights": [1, 1]},
     "'samples' must be rows of 1 values"),
    ({"parameters": ["a"], "samples": [[1, 2]], "weights": [1]},
     "'samples' must be rows of 1 values"),
    ({"parameters": ["a", "b"], "samples": [[1]], "weights": [1]},
     "'samples' must be rows of 2 values"),
    ({"parameters": ["a"], "samples": np.zeros((0, 1)).tolist(), "weights": []},
     "'samples' must be rows of 1 values"),
    ({"parameters": ["a"], "samples": [[1], [2]], "weights": [1]},
     "one weight per sample needed"),
    ({"parameters": ["a"], "samples": [[1], [2]], "weights": [[1, 1]]},
     "one weight per sample needed"),
    ({"parameters": ["a"], "samples": [[1], [float("nan")]], "weights": [1, 1]},
     "samples and weights must be finite; weights >= 0, not all 0"),
    ({"parameters": ["a"], "samples": [[1], [2]], "weights": [1, float("inf")]},
     "samples and weights must be finite; weights >= 0, not all 0"),
    ({"parameters": ["a"], "samples": [[1], [2]], "weights": [2, -1]},
     "samples and weights must be finite; weights >= 0, not all 0"),
    ({"parameters": ["a"], "samples": [[1], [2]], "weights": [0, 0]},
     "samples and weights must be finite; weights >= 0, not all 0"),
    ({"parameters": ["a", "a"], "samples": [[1, 2]], "weights": [1]},
     "a parameter is listed twice in 'parameters'"),
])
def test_a_bad_posterior_file_is_refused_in_one_line(tmp_path, data, why):
    path = _posterior(tmp_path, data)
    with pytest.raises(UsageError) as excinfo:
        read_posterior(path)
    assert str(excinfo.value) == f"{path}: {why}"


def test_a_missing_or_unsafe_posterior_file_is_refused(tmp_path):
    with pytest.raises(UsageError) as excinfo:
        read_posterior(tmp_path / "missing.json")
    assert str(excinfo.value) == f"{tmp_path / 'missing.json'}: file not found"
    with pytest.raises(UsageError) as excinfo:
        read_posterior(tmp_path)
    assert str(excinfo.value) == (f"{tmp_path}: a folder, not a regular file; name a "
                                  "posterior.json of sim calibrate")
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(50_000_001)
    with pytest.raises(UsageError) as excinfo:
        read_posterior(big)
    assert str(excinfo.value) == (f"{big}: larger than 50000000 bytes; name a posterior.json "
                                  "of sim calibrate")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(UsageError, match="not a posterior written by sim calibrate"):
        read_posterior(bad)


def test_the_posterior_figure_sets_prior_against_posterior():
    """One panel per value: a uniform prior around 0 on a linear axis (densities: the bars'
    areas sum to 1), a lognormal over orders of magnitude on a log axis (shares: the bars sum to 1);
    29 bins from the prior's quantiles (0.5 .. 3999.5) / 4000 each."""
    priors = [Prior(dist="uniform", low=-1.0, high=1.0),
              Prior(dist="lognormal", median=1.0, sigma=3.0)]
    samples = np.array([[-0.5, 0.1], [0.5, 10.0], [0.0, 1.0]])
    weights = np.array([0.4, 0.6, 1.0])  # not normalised: the figure normalises them
    fig = module.posterior_plot(["a.b", "c.d"], priors, samples, weights)
    assert tuple(fig.get_size_inches()) == pytest.approx((8.4, 3.4))
    linear, log = fig.axes
    assert (linear.get_title(), log.get_title()) == ("a.b", "c.d")
    assert linear.title.get_fontsize() == 9 and linear.xaxis.label.get_fontsize() == 8
    assert (linear.get_xlabel(), log.get_xlabel()) == ("value", "value")
    assert (linear.get_xscale(), log.get_xscale()) == ("linear", "log")
    assert linear.get_ylabel() == "probability density" and log.get_ylabel() == "share per bin"
    assert linear.yaxis.label.get_fontsize() == 8 and log.yaxis.label.get_fontsize() == 8
    for ax in (linear, log):
        legend = ax.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == ["prior", "posterior"]
        assert legend.get_texts()[0].get_fontsize() == 7
        assert len(ax.patches) == 58
        prior_bars, post_bars = ax.patches[:29], ax.patches[29:]
        assert prior_bars[0].get_facecolor() == pytest.approx((0xbb / 255,) * 3 + (1.0,))
        assert post_bars[0].get_facecolor() == pytest.approx(
            (0x0b / 255, 0x53 / 255, 0x94 / 255, 0.75))
    draws = -1.0 + 2.0 * (np.arange(4000) + 0.5) / 4000
    edges = np.linspace(draws.min(), draws.max(), 30)
    bars = linear.patches
    assert [b.get_x() for b in bars[:29]] == pytest.approx(edges[:-1].tolist())
    assert sum(b.get_height() * b.get_width() for b in bars[:29]) == pytest.approx(1.0)
    assert sum(b.get_height() * b.get_width() for b in bars[29:]) == pytest.approx(1.0)
    # the posterior's weights in the bins of -0.5, 0.5 and 0, as densities
    width = edges[1] - edges[0]
    heights = [b.get_height() * width for b in bars[29:]]
    expected = np.zeros(29)
    for value, w in zip((-0.5, 0.5, 0.0), (0.2, 0.3, 0.5), strict=True):
        expected[np.searchsorted(edges, value, side="right") - 1] += w
    assert heights == pytest.approx(expected.tolist())
    assert sum(b.get_height() for b in log.patches[:29]) == pytest.approx(1.0)
    assert sum(b.get_height() for b in log.patches[29:]) == pytest.approx(1.0)
    lognormal = np.exp(3.0 * np.sqrt(2) * __import__("scipy").special.erfinv(
        2 * (np.arange(4000) + 0.5) / 4000 - 1))
    log_edges = np.geomspace(lognormal.min(), lognormal.max(), 30)
    assert [b.get_x() for b in log.patches[:29]] == pytest.approx(log_edges[:-1].tolist(),
                                                                  rel=1e-6)


def test_a_prior_of_one_point_gets_a_unit_wide_axis():
    fig = module.posterior_plot(["a"], [Prior(dist="uniform", low=2.0, high=2.0)],
                                np.array([[2.0]]), np.array([1.0]))
    (ax,) = fig.axes
    assert ax.patches[0].get_x() == pytest.approx(2.0)
    assert sum(b.get_width() for b in ax.patches[:29]) == pytest.approx(1.0)


def test_a_narrow_positive_prior_stays_linear():
    """lo > 0 but hi <= 100 lo: a linear axis (the log axis is for orders of magnitude)."""
    fig = module.posterior_plot(["a"], [Prior(dist="uniform", low=1.0, high=100.0)],
                                np.array([[2.0]]), np.array([1.0]))
    assert fig.axes[0].get_xscale() == "linear"
    fig = module.posterior_plot(["a"], [Prior(dist="uniform", low=-1.0, high=1000.0)],
                                np.array([[2.0]]), np.array([1.0]))
    assert fig.axes[0].get_xscale() == "linear"


def test_the_posterior_figure_is_saved_at_110_dpi(tmp_path):
    from PIL import Image

    path = tmp_path / "c.png"
    module.plot_posterior(path, ["a"], [Prior(dist="uniform", low=0.0, high=1.0)],
                          np.array([[0.5]]), np.array([1.0]))
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.info["dpi"] == pytest.approx((110, 110), abs=0.01)


# --------------------------------------------------------------------------- the command


class _Stand:
    """A stand-in for BatchedSimulator: distance |loss_rate - 0.3| + 0.01 x simulation index
    mod 7 (depends only on the value and how many came before, as the real one promises)."""

    made: ClassVar[list] = []

    def __init__(self, target, paths, probes, seed, batch):
        self.target, self.paths, self.probes, self.seed, self.batch = (target, paths, probes,
                                                                      seed, batch)
        self.simulations, self.seconds = 0, 0.0
        self.progress: list = []
        self.stop_at = None
        _Stand.made.append(self)

    def run(self, values, progress=None):
        start = self.simulations
        if self.stop_at is not None and start >= self.stop_at:
            raise KeyboardInterrupt
        self.simulations += len(values)
        self.seconds += 0.25
        if progress is not None:
            progress(self.simulations)
        j = self.paths.index("fighting.loss_rate")
        return np.abs(values[:, j] - 0.3) + 0.01 * ((start + np.arange(len(values))) % 7)


def _uncertain(tmp_path):
    data = yaml.safe_load(FICTIONAL.read_text())
    data["fighting"] = {"loss_rate": {"value": 0.2, "range": [0.02, 0.6]},
                        "event_size": {"value": 4.0, "range": [4.0, 4.0]}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    path = tmp_path / "o.yaml"
    path.write_text("scenario: s.yaml\ndescription: t\nquantities:\n"
                    "  - {indicator: losses.arcadia, value: 12, source: x}\n")
    return load_observations(path)


SMALL = {"simulations": 120, "population": 20, "generations": 4, "batch": 50, "seed": 3}


def _independent(obs, **kw):
    """The same calibration as a plain loop of abc_smc over the stand-in simulator."""
    paths = ("fighting.event_size", "fighting.loss_rate")  # sorted
    priors = [obs.scenario.uncertain[("fighting", "event_size")],
              obs.scenario.uncertain[("fighting", "loss_rate")]]
    settings = Settings(kw["population"], kw["simulations"], kw["generations"], 0.0, 0.005,
                        kw["seed"])
    abc = ABCSMC(priors, _Stand(None, paths, None, kw["seed"], kw["batch"]), settings)
    gens = [abc.first()]
    while (reason := abc.stop_after(gens[-1])) is None:
        gens.append(abc.next(gens[-1]))
    return gens, reason, paths, priors


@pytest.fixture
def stand(monkeypatch):
    _Stand.made = []
    monkeypatch.setattr(module, "BatchedSimulator", _Stand)
    return _Stand


TICK = 0.129  # seconds a reading of the stand-in clock


def test_the_command_writes_its_files_and_diagnostics(tmp_path, stand, monkeypatch):
    obs = _uncertain(tmp_path)
    gens, reason, paths, _ = _independent(obs, **SMALL)
    calls = []
    out = tmp_path / "c"
    clock = iter(range(1000))
    monkeypatch.setattr(time, "perf_counter", lambda: TICK * next(clock))
    d = calibrate(obs, out_dir=out, progress=lambda *a: calls.append(a), **SMALL)
    monkeypatch.undo()
    final = gens[-1] if gens[-1].complete else gens[-2]
    sim = stand.made[-1]  # the command's (the first is the independent loop's)
    assert (sim.paths, sim.seed, sim.batch) == (paths, 3, 50)
    assert sim.target.quantities == [("losses.arcadia", 12.0, 12.0, 12.0)]
    assert sim.probes[0] == (4.0, 4.0)
    assert sim.probes[1] == pytest.approx((0.02 + 0.58 * PROBES[0], 0.02 + 0.58 * PROBES[1]))
    assert sorted(p.name for p in out.iterdir()) == [
        ".crisis-sim", ".lock", "calibration.json", "calibration.png", "generations",
        "posterior.json", "settings.json"]
    digest = hashlib.sha256((tmp_path / "o.yaml").read_bytes()).hexdigest()
    assert json.loads((out / "settings.json").read_text()) == {
        "scenario_sha256": obs.scenario.digest(), "observations_sha256": digest,
        "parameters": list(paths), "population": 20, "simulations": 120, "generations": 4,
        "min_epsilon": 0.0, "min_acceptance": 0.005, "seed": 3}
    saved = sorted(p.name for p in (out / "generations").iterdir())
    assert saved == [f"{g.t:03d}.json" for g in gens]
    for g in gens:
        record = json.loads((out / "generations" / f"{g.t:03d}.json").read_text())
        mine = {**g.record(), "seconds": TICK}
        assert record == json.loads(json.dumps(mine))
    posterior = json.loads((out / "posterior.json").read_text())
    assert posterior == {"kind": "crisis-sim posterior", "scenario": str(obs.scenario.path),
                         "scenario_sha256": obs.scenario.digest(), "parameters": list(paths),
                         "samples": final.samples.tolist(), "weights": final.weights.tolist()}
    assert d == json.loads((out / "calibration.json").read_text())
    summaries = [{**g.summary(), "seconds": round(TICK, 2)} for g in gens]
    created = dt.datetime.fromisoformat(d.pop("created"))
    assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 600
    assert d.pop("generations") == summaries
    times = {k: d.pop(k) for k in ("simulation_seconds", "wall_seconds",
                                   "wall_seconds_this_run", "runs_per_second")}
    # the stand-in 'takes' 0.25 s a batch; the clock ticks TICK s a reading (0.129: the
    # rate 120 / (TICK n) then has a second decimal, so its rounding to one is seen): a
    # generation reads it twice (TICK s), the command once before and once after them all
    n = len(gens)
    assert times == {"simulation_seconds": round(0.25 * len(calls), 1),
                     "wall_seconds": round(TICK * n, 1),
                     "wall_seconds_this_run": round(TICK * (2 * n + 1), 1),
                     "runs_per_second": round(120 / (TICK * n), 1)}
    assert times["runs_per_second"] != round(times["runs_per_second"])
    xs, w = final.samples, final.weights
    assert d == {
        "scenario": str(obs.scenario.path), "scenario_name": obs.scenario.spec.name,
        "scenario_sha256": obs.scenario.digest(), "observations": str(obs.path),
        "cutoff": None, "simulated_days": 60, "parameters": list(paths),
        "priors": {"fighting.event_size": {"dist": "uniform", "low": 4.0, "high": 4.0},
                   "fighting.loss_rate": {"dist": "uniform", "low": 0.02, "high": 0.6}},
        "fitted": {"events": [], "quantities": ["losses.arcadia"]},
        "method": "ABC-SMC (vectorised; Beaumont et al. 2009, Filippi et al. 2013 kernel)",
        "simulations": gens[-1].total, "resumed_after_generation": None, "stopped": reason,
        "result_generation": final.t, "final_epsilon": final.epsilon, "population_size": 20,
        "batch": 50, "seed": 3, "effective_sample_size": final.ess,
        "posterior": {p: module._summary(xs[:, j], w) for j, p in enumerate(paths)},
        "piled_against_bounds": []}  # nothing piled against a declared bound (that warning:
    # tests/test_analyst_surfaces.py)
    assert d["simulations"] == 120 and reason == "budget"
    # progress: (simulations done, generation, its tolerance) after each batch
    assert calls[0] == (20, 0, math.inf)
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    for g in gens[1:]:
        eps = [c[2] for c in calls if c[1] == g.t]
        assert eps and set(eps) == {next_tolerance(
            gens[g.t - 1].distances, gens[g.t - 1].weights, gens[g.t - 1].epsilon, 0.0)}
    assert calls[-1][0] == 120


def test_a_last_generation_cut_short_by_the_budget_leaves_the_one_before_as_the_result(
        tmp_path, stand):
    """Population 10, budget 60, seed 4: generation 1 ends at 47 simulations; generation 2
    has only the 13 left and accepts 8 within generation 1's tolerance (which it may not
    exceed), so it is incomplete. The posterior, its summary and the reported tolerance are
    generation 1's (not the incomplete 2's, nor the prior draws of 0); the simulations
    counted are all 60, and every generation is listed."""
    obs = _uncertain(tmp_path)
    kw = {**SMALL, "simulations": 60, "population": 10, "generations": 10, "seed": 4}
    gens, reason, paths, _ = _independent(obs, **kw)
    assert [(g.t, g.total, len(g.weights), g.complete) for g in gens] == [
        (0, 10, 10, True), (1, 47, 11, True), (2, 60, 8, False)]
    assert reason == "budget" and gens[2].epsilon == gens[1].epsilon
    d = calibrate(obs, out_dir=tmp_path / "c", **kw)
    one = gens[1]
    posterior = json.loads((tmp_path / "c" / "posterior.json").read_text())
    assert posterior["samples"] == one.samples.tolist()
    assert posterior["weights"] == one.weights.tolist()
    assert len(posterior["samples"]) == 11  # generation 2 has 8 samples, generation 0 has 10
    assert (d["result_generation"], d["final_epsilon"], d["stopped"], d["simulations"]) == (
        1, one.epsilon, "budget", 60)
    assert d["effective_sample_size"] == one.ess
    assert d["posterior"] == {p: module._summary(one.samples[:, j], one.weights)
                              for j, p in enumerate(paths)}
    assert [g["complete"] for g in d["generations"]] == [True, True, False]
    saved = json.loads((tmp_path / "c" / "generations" / "002.json").read_text())
    assert saved["complete"] is False and saved["samples"] == gens[2].samples.tolist()


def test_an_interrupted_command_resumes_to_the_same_posterior(tmp_path, stand, monkeypatch,
                                                              caplog):
    obs = _uncertain(tmp_path)
    longer = {**SMALL, "simulations": 400, "generations": 6}  # totals 20, 65, 147, 265, 400
    whole = calibrate(obs, out_dir=tmp_path / "whole", **longer)
    stand.made = []
    real_init = _Stand.__init__

    def stopping(self, *args):
        real_init(self, *args)
        self.stop_at = 200  # Ctrl-C in generation 4 (it starts at 265): 0 to 3 are saved

    monkeypatch.setattr(_Stand, "__init__", stopping)
    with pytest.raises(KeyboardInterrupt):
        calibrate(obs, out_dir=tmp_path / "cut", **longer)
    saved = sorted(p.name for p in (tmp_path / "cut" / "generations").iterdir())
    assert saved == ["000.json", "001.json", "002.json", "003.json"]
    assert not (tmp_path / "cut" / "posterior.json").exists()
    monkeypatch.setattr(_Stand, "__init__", real_init)
    caplog.set_level(logging.INFO, logger="sim.validation.calibrate")
    resumed = calibrate(obs, out_dir=tmp_path / "cut", **longer)
    last_saved = json.loads((tmp_path / "cut" / "generations" / saved[-1]).read_text())
    messages = [r.getMessage() for r in caplog.records if r.name == "sim.validation.calibrate"]
    assert messages[0] == (f"resuming {tmp_path / 'cut'} after generation {last_saved['t']} "
                           f"({last_saved['total']} simulations)")
    later = [json.loads(p.read_text()) for p in sorted((tmp_path / "cut" / "generations")
                                                       .iterdir())[len(saved):]]
    assert later and messages[1:] == [
        f"generation {g['t']}: epsilon {g['epsilon']:.4g}, {len(g['weights'])} accepted of "
        f"{g['simulations']} ({g['kernel']} kernel)" for g in later]
    assert stand.made[-1].simulations == 400
    assert resumed["resumed_after_generation"] == len(saved) - 1
    a = json.loads((tmp_path / "whole" / "posterior.json").read_text())
    b = json.loads((tmp_path / "cut" / "posterior.json").read_text())
    assert a == b
    assert whole["stopped"] == resumed["stopped"]
    # a finished folder is refused, never overwritten
    with pytest.raises(UsageError) as excinfo:
        calibrate(obs, out_dir=tmp_path / "cut", **SMALL)
    assert str(excinfo.value) == (f"{tmp_path / 'cut'} already holds a posterior.json; choose "
                                  "another --out (results are never overwritten)")


def test_a_finished_calibration_is_resumed_to_its_result_without_simulating(tmp_path, stand):
    """Every generation saved but no posterior (killed while writing it): the resume stops at
    once, with the same posterior, and simulates nothing."""
    obs = _uncertain(tmp_path)
    calibrate(obs, out_dir=tmp_path / "a", **SMALL)
    first = json.loads((tmp_path / "a" / "posterior.json").read_text())
    (tmp_path / "a" / "posterior.json").unlink()
    (tmp_path / "a" / ".crisis-sim").unlink()  # as calibrate left folders before the marker
    d = calibrate(obs, out_dir=tmp_path / "a", **SMALL)
    assert (tmp_path / "a" / ".crisis-sim").is_file()
    assert stand.made[-1].seconds == 0.0
    assert json.loads((tmp_path / "a" / "posterior.json").read_text()) == first
    assert d["wall_seconds_this_run"] < 60


def test_a_calibration_with_the_seed_of_its_scenario_and_its_defaults(tmp_path, stand):
    obs = _uncertain(tmp_path)
    d = calibrate(obs, out_dir=tmp_path / "a", simulations=60, population=20)
    assert d["seed"] == obs.scenario.spec.run.seed and d["batch"] == 20_000
    assert stand.made[0].seed == obs.scenario.spec.run.seed
    settings = json.loads((tmp_path / "a" / "settings.json").read_text())
    assert (settings["generations"], settings["min_epsilon"],
            settings["min_acceptance"]) == (10, 0.0, 0.005)
    assert isinstance(settings["min_epsilon"], float)
    d = calibrate(obs, out_dir=tmp_path / "b", simulations=60, population=20, min_epsilon=1,
                  min_acceptance=1, seed=8)
    settings = json.loads((tmp_path / "b" / "settings.json").read_text())
    assert (settings["min_epsilon"], settings["min_acceptance"], settings["seed"]) == (
        1.0, 1.0, 8)
    assert d["stopped"] in ("min_epsilon", "budget")


def test_a_calibration_with_nothing_to_fit_is_refused(tmp_path, stand):
    shutil.copy(FICTIONAL, tmp_path / "s.yaml")
    path = tmp_path / "o.yaml"
    path.write_text("scenario: s.yaml\ndescription: t\nquantities:\n"
                    "  - {indicator: losses.arcadia, value: 12, source: x}\n")
    obs = load_observations(path)
    with pytest.raises(UsageError) as excinfo:
        calibrate(obs, out_dir=tmp_path / "c", simulations=10)
    assert str(excinfo.value) == (f"{obs.scenario.path}: the scenario has no uncertain values "
                                  "to calibrate; give the values to fit a range: or prior:")
    data = yaml.safe_load(FICTIONAL.read_text())
    data["fighting"] = {"loss_rate": {"value": 0.2, "range": [0.2, 0.2]}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    obs = load_observations(path)
    with pytest.raises(UsageError) as excinfo:
        calibrate(obs, out_dir=tmp_path / "c", simulations=10)
    assert str(excinfo.value) == (f"{obs.scenario.path}: every uncertain value has a range of "
                                  "one point; nothing to calibrate")
    assert not (tmp_path / "c").exists()


def test_a_users_folder_and_a_too_large_budget_are_refused_before_anything_runs(tmp_path,
                                                                               stand):
    obs = _uncertain(tmp_path)
    users = tmp_path / "mine"
    users.mkdir()
    (users / "calibration.json").write_text("mine")
    with pytest.raises(UsageError, match="is a folder sim did not create"):
        calibrate(obs, out_dir=users, **SMALL)
    with pytest.raises(UsageError, match="--population 200 is more than the budget"):
        calibrate(obs, out_dir=tmp_path / "x", **{**SMALL, "population": 200})
    assert not (tmp_path / "x").exists() and stand.made == []


def test_the_observations_file_must_still_be_readable(tmp_path, stand, monkeypatch):
    obs = _uncertain(tmp_path)
    (tmp_path / "o.yaml").unlink()
    (tmp_path / "o.yaml").mkdir()
    with pytest.raises(UsageError) as excinfo:
        calibrate(obs, out_dir=tmp_path / "c", **SMALL)
    assert str(excinfo.value) == (f"{obs.path}: cannot read it again (a folder, not a regular "
                                  "file)")


# --------------------------------------------------------------------------- the real simulator


def test_the_lockstep_simulator_gives_each_simulation_its_own_replication(tmp_path):
    """Simulation i is replication i whatever the batches: 5 values in batches of 2 give the
    distances of one batch of 5; the counter and the progress follow each batch."""
    obs = _uncertain(tmp_path)
    target = build_target(obs)
    paths = ("fighting.event_size", "fighting.loss_rate")
    probes = ((4.0, 4.0), (0.1, 0.5))
    values = np.column_stack([np.full(5, 4.0), np.linspace(0.05, 0.55, 5)])
    one = module.BatchedSimulator(target, paths, probes, 4, 100)
    assert (one.simulations, one.seconds) == (0, 0.0)
    seen = []
    d_one = one.run(values, seen.append)
    assert one.simulations == 5 and seen == [5] and 0 < one.seconds < 600
    first = one.seconds
    split = module.BatchedSimulator(target, paths, probes, 4, 2)
    seen = []
    d_split = split.run(values, seen.append)
    assert seen == [2, 4, 5] and split.simulations == 5
    np.testing.assert_array_equal(d_one, d_split)
    assert d_one.shape == (5,) and np.isfinite(d_one).all()
    # simulation 5 onward are other replications: the same values give other losses
    again = one.run(values)
    assert one.simulations == 10 and not np.array_equal(again, d_one)
    assert first < one.seconds < 600  # the time of both runs
    assert one.run(values[:0]).shape == (0,)
    # the values are simulated: other loss rates give other distances, as another seed does
    other = module.BatchedSimulator(target, paths, probes, 4, 100)
    assert not np.array_equal(other.run(values * [1.0, 0.5]), d_one)
    reseeded = module.BatchedSimulator(target, paths, probes, 5, 100)
    assert not np.array_equal(reseeded.run(values), d_one)


def _talks_observations(tmp_path):
    """The fictional scenario with an uncertain loss rate and an uncertain whole number of
    days (bargaining.talks, 1 to 8), and one observed loss total: the observations' path."""
    data = yaml.safe_load(FICTIONAL.read_text())
    data["fighting"] = {"loss_rate": {"value": 0.2, "range": [0.02, 0.6]}}
    data.setdefault("bargaining", {})["talks"] = {"value": 3, "range": [1, 8]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    path = tmp_path / "o.yaml"
    path.write_text("scenario: s.yaml\ndescription: t\nquantities:\n"
                    "  - {indicator: losses.arcadia, value: 12, source: x}\n")
    return path


def test_an_integer_value_is_probed_rounded(tmp_path, stand):
    """bargaining.talks is a whole number of days: its draws are simulated rounded, so its
    probes (the prior's 0.1% and 99.9% quantiles, 1.007 and 7.993) are rounded too."""
    calibrate(load_observations(_talks_observations(tmp_path)), out_dir=tmp_path / "c", **SMALL)
    probes = stand.made[-1].probes
    assert probes[0] == (1.0, 8.0)
    assert probes[1] == pytest.approx((0.02 + 0.58 * PROBES[0], 0.02 + 0.58 * PROBES[1]))


def test_the_apis_defaults_are_the_documented_ones():
    """sim.api and scripts call calibrate() with its defaults: the budget, population, batch,
    generations and stopping rules the README and docs/api.md give."""
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(calibrate).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults == {"simulations": 100_000, "population": 1000, "batch": 20_000,
                        "generations": 10, "min_epsilon": 0.0, "min_acceptance": 0.005,
                        "seed": None, "progress": None}


def test_the_fitted_values_are_in_the_order_of_their_written_paths(tmp_path, stand):
    """Sorted as written ('actions[10]' before 'actions[2]'), not as key tuples (where
    index 2 comes before index 10)."""
    data = yaml.safe_load(FICTIONAL.read_text())
    actions = data["actors"]["arcadia"]["actions"]
    actions += [{"verb": "attack", "target": "corvalia"},
                {"verb": "deescalate", "target": "corvalia"},
                {"verb": "sanction", "target": "borduria"},
                {"verb": "sanction", "target": "corvalia"},
                {"verb": "threaten", "target": "borduria"},
                {"verb": "threaten", "target": "corvalia"}]
    assert len(actions) == 11
    actions[2]["cost"] = {"value": 0.05, "range": [0.0, 0.1]}
    actions[10]["cost"] = {"value": 0.05, "range": [0.0, 0.1]}
    data["fighting"] = {"loss_rate": {"value": 0.2, "range": [0.02, 0.6]}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    path = tmp_path / "o.yaml"
    path.write_text("scenario: s.yaml\ndescription: t\nquantities:\n"
                    "  - {indicator: losses.arcadia, value: 12, source: x}\n")
    d = calibrate(load_observations(path), out_dir=tmp_path / "c", **SMALL)
    assert d["parameters"] == ["actors.arcadia.actions[10].cost",
                               "actors.arcadia.actions[2].cost", "fighting.loss_rate"]
    assert stand.made[-1].paths == tuple(d["parameters"])


def test_a_calibration_of_one_generation_and_no_time(tmp_path, stand, monkeypatch):
    """A budget of one population: generation 0 is the result (its tolerance infinite,
    written as none). A clock that does not move: no rate to report."""
    obs = _uncertain(tmp_path)
    monkeypatch.setattr(time, "perf_counter", lambda: 5.0)
    d = calibrate(obs, out_dir=tmp_path / "a", **{**SMALL, "simulations": 20})
    assert (d["result_generation"], d["final_epsilon"], d["stopped"]) == (0, None, "budget")
    assert (d["wall_seconds"], d["wall_seconds_this_run"], d["runs_per_second"]) == (
        0.0, 0.0, None)


@pytest.mark.parametrize(("lo", "hi", "scale"), [
    (1.0, 100.0, "linear"),  # exactly two orders of magnitude: not more
    (1.0, 100.5, "log"), (0.0, 5.0, "linear"), (-1.0, 500.0, "linear")])
def test_a_log_axis_is_for_priors_over_more_than_two_orders_of_magnitude(monkeypatch, lo, hi,
                                                                         scale):
    draws = np.linspace(lo, hi, 4000)
    monkeypatch.setattr(module, "prior_ppf", lambda prior, u: draws)
    fig = module.posterior_plot(["a"], [Prior(dist="uniform", low=0.0, high=1.0)],
                                np.array([[2.0]]), np.array([1.0]))
    assert fig.axes[0].get_xscale() == scale


def test_the_figure_gets_the_results_weighted_samples(tmp_path, stand, monkeypatch):
    obs = _uncertain(tmp_path)
    drawn = []
    monkeypatch.setattr(module, "plot_posterior",
                        lambda path, paths, priors, x, w: drawn.append((path, paths, x, w)))
    calibrate(obs, out_dir=tmp_path / "c", **SMALL)
    posterior = json.loads((tmp_path / "c" / "posterior.json").read_text())
    ((path, paths, x, w),) = drawn
    assert path == tmp_path / "c" / "calibration.png"
    assert list(paths) == posterior["parameters"]
    assert x.tolist() == posterior["samples"] and w.tolist() == posterior["weights"]


def test_the_lockstep_simulator_rounds_an_integer_values_draws(tmp_path, monkeypatch):
    """bargaining.talks is a whole number of days: the simulator hands the model its draws
    rounded (2.6 -> 3, 5.4 -> 5), as ``sim run --posterior`` does, and the loss rate as
    drawn. (The values are caught where they become the runs' parameters.)"""
    target = build_target(load_observations(_talks_observations(tmp_path)))
    paths = ("bargaining.talks", "fighting.loss_rate")
    simulator = module.BatchedSimulator(target, paths, ((1.0, 8.0), (0.1, 0.5)), 4, 100)
    assert simulator.integer.tolist() == [True, False]
    seen = []

    class CaughtError(Exception):
        pass

    def params_for(data, frozen, paths_, probes, values):
        seen.append(values.tolist())
        raise CaughtError

    monkeypatch.setattr(module, "params_for", params_for)
    with pytest.raises(CaughtError):
        simulator.run(np.array([[2.6, 0.33], [5.4, 0.47]]))
    assert seen == [[[3.0, 0.33], [5.0, 0.47]]]


def test_the_lockstep_simulator_compiles_each_run_of_a_value_that_is_not_affine(tmp_path):
    """bargaining.talks is a whole number of days (an integer parameter): no affine map, so
    each run's scenario is compiled from the scenario's data with its values. The distances
    are those of the model run with the values set directly, simulation i as replication i."""
    from sim.execution import variation
    from sim.model import CrisisModel
    from sim.outcomes import indicators

    target = build_target(load_observations(_talks_observations(tmp_path)))
    paths = ("bargaining.talks", "fighting.loss_rate")
    probes = ((1.0, 8.0), (0.1, 0.5))
    simulator = module.BatchedSimulator(target, paths, probes, 4, 100)
    assert variation._affine_map(simulator.frozen, paths, probes) is None
    values = np.array([[2.0, 0.33], [7.0, 0.47], [5.0, 0.05]])
    got = simulator.run(values)
    expected = []
    for i, (talks, rate) in enumerate(values):
        sets = [f"bargaining.talks={int(talks)}", f"fighting.loss_rate={float(rate)!r}"]
        model = CrisisModel(target.scenario.data, replications=np.array([i]), seed=4,
                            overrides=sets, record_paths=False)
        model.run()
        expected.append(target.distances(indicators(model))[0])
    np.testing.assert_array_equal(got, expected)
    assert np.isfinite(got).all() and len(set(got.tolist())) == 3


def test_a_pile_against_a_bound_is_a_share_of_the_weights_whatever_their_sum():
    """Weights need not sum to 1: 3 of 4 samples at the upper edge of [0, 1] (>= 0.95), with
    weights 2, 2, 2, 6, hold (2 + 2 + 6) / 12 of the weight."""
    from sim.scenario.schema import Prior
    from sim.validation.calibrate import piled_against_bounds

    samples = np.array([[0.97], [0.99], [0.5], [0.96]])
    found = piled_against_bounds(["a"], [Prior(dist="uniform", low=0.0, high=1.0)], samples,
                                 np.array([2.0, 2.0, 2.0, 6.0]))
    assert [(f["parameter"], f["bound"], f["value"]) for f in found] == [("a", "upper", 1.0)]
    assert found[0]["share"] == pytest.approx(10 / 12, rel=1e-12)


def test_piles_against_each_kind_of_declared_bound_as_reported():
    """Uniform, triangular and beta priors declare both bounds, a normal's low/high cut one;
    a prior of one point is skipped (the next path is still read). Samples exactly on the
    edge (the prior's 5% quantile) count; 15% of the weight there is a pile."""
    from sim.scenario.schema import Prior
    from sim.validation.calibrate import piled_against_bounds

    ones = np.ones(20)
    low20 = np.r_[np.zeros(3), np.full(17, 0.5)]  # 3 of 20 (15%) at 0, the others inside
    point = Prior(dist="uniform", low=0.5, high=0.5)
    for prior in (Prior(dist="uniform", low=0.0, high=1.0),
                  Prior(dist="triangular", low=0.0, mode=0.5, high=1.0),
                  Prior(dist="beta", a=2.0, b=2.0)):
        found = piled_against_bounds(["p", "a"], [point, prior],
                                     np.column_stack([np.full(20, 0.5), low20]), ones)
        assert found == [{"parameter": "a", "bound": "lower", "value": 0.0,
                          "share": pytest.approx(0.15, rel=1e-12),
                          "message": "the posterior of a is piled against its prior's lower "
                          "bound 0 (15% of its weight in the prior's lowest 5%): the prior "
                          "may be too narrow"}], prior.dist
    edge = np.r_[np.full(3, 0.05), np.full(17, 0.5)]  # exactly on the uniform's 5% edge
    uniform = Prior(dist="uniform", low=0.0, high=1.0)
    assert [f["share"] for f in piled_against_bounds(["a"], [uniform], edge[:, None], ones)
            ] == [pytest.approx(0.15, rel=1e-12)]
    high = 1.0 - low20  # 3 of 20 at 1: the upper bound
    (found,) = piled_against_bounds(["a"], [uniform], high[:, None], ones)
    assert (found["bound"], found["value"]) == ("upper", 1.0)
    assert found["message"].endswith("(15% of its weight in the prior's highest 5%): the "
                                     "prior may be too narrow")
    cut = Prior(dist="normal", mean=0.0, sd=1.0, high=1.0)  # only its high is declared
    at_both = np.r_[np.full(4, -3.0), np.full(4, 1.0), np.zeros(12)][:, None]
    assert [f["bound"] for f in piled_against_bounds(["a"], [cut], at_both, ones)] == [
        "upper"]
    assert piled_against_bounds(["a"], [Prior(dist="normal", mean=0.0, sd=1.0)], at_both,
                                ones) == []


def test_a_call_without_a_budget_gets_the_documented_defaults(tmp_path, monkeypatch):
    """``calibrate``'s defaults as a call without them gets them: 100,000 simulations,
    populations of 1,000, at most 10 generations, stopping below 0.5% acceptance (read where
    the settings are checked, before anything runs; inspect.signature alone would not see a
    default changed behind a wrapper)."""
    seen = []

    class SizesCheckedError(Exception):
        pass

    def caught(settings, j):
        seen.append((settings, j))
        raise SizesCheckedError

    monkeypatch.setattr(module, "check_sizes", caught)
    with pytest.raises(SizesCheckedError):
        calibrate(_uncertain(tmp_path), out_dir=tmp_path / "c", seed=3)
    (settings, j), = seen
    assert (settings.population, settings.simulations, settings.generations,
            settings.min_epsilon, settings.min_acceptance, j) == (1000, 100_000, 10, 0.0,
                                                                 0.005, 2)
    assert not (tmp_path / "c").exists()  # refused sizes leave no folder behind


def test_the_upper_edge_and_the_pile_threshold_are_inclusive():
    """A sample exactly on the upper edge (the prior's 95% quantile) is in the edge, and a
    share of exactly 15% there is a pile: with 0.15 of the weight at the edge and 0.85 in the
    middle the bound is reported; 0.14 is not."""
    from sim.execution.variation import prior_ppf
    from sim.scenario.schema import Prior
    from sim.validation.calibrate import piled_against_bounds

    prior = Prior(dist="uniform", low=0.0, high=1.0)
    edge = float(prior_ppf(prior, np.array([0.95]))[0])
    samples = np.array([[edge], [0.5]])
    found = piled_against_bounds(["a"], [prior], samples, np.array([0.15, 0.85]))
    assert [(f["bound"], f["share"]) for f in found] == [("upper", 0.15)]
    assert piled_against_bounds(["a"], [prior], samples, np.array([0.14, 0.86])) == []


def test_calibration_json_records_the_cutoff(tmp_path, stand):
    """Calibrated on what was known by a cutoff, ``calibration.json`` says which day (as
    the observations give it); without one it says None (the other test)."""
    import json

    obs = _uncertain(tmp_path)
    obs.path.write_text("scenario: s.yaml\ndescription: t\ncutoff: 2031-05-20\nquantities:\n"
                        "  - {indicator: losses.arcadia, value: 12, "
                        "window: [2031-05-01, 2031-05-20], source: x}\n")
    calibrate(load_observations(obs.path), out_dir=tmp_path / "c", **SMALL)
    saved = json.loads((tmp_path / "c" / "calibration.json").read_text())
    assert saved["cutoff"] == "2031-05-20"
