"""Bad input: every broken or hostile file gets a precise message, fast, with bounded memory."""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from sim.errors import ScenarioError
from sim.scenario.loader import load_scenario

from .conftest import FICTIONAL, ROOT

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


def test_the_corpus_has_at_least_thirty_cases():
    assert len(CASES) >= 30


# A hang guard, not a speed test (speed lives in benchmarks/): loading a corpus case takes a few
# milliseconds untraced; a pre-scan that stopped refusing a bomb would take minutes or exhaust
# memory.
HANG_GUARD_S = 10.0


@pytest.mark.parametrize("name", CASES)
def test_corpus_case_is_refused_precisely_without_hanging(name):
    path = CORPUS / f"{name}.yaml"
    expect = (CORPUS / f"{name}.expect").read_text().strip()
    assert expect, f"{name}.expect is empty: every case names the message it expects"
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    elapsed = time.perf_counter() - started
    assert elapsed < HANG_GUARD_S, f"{name} took {elapsed:.2f} s"
    text = str(info.value)
    assert expect in text, text
    for problem in info.value.problems:
        assert problem.file.endswith(".yaml") or problem.file == str(path), problem
        assert problem.message


@pytest.mark.parametrize("name", CASES)
def test_corpus_case_is_refused_in_bounded_memory(name):
    # Traced separately: tracemalloc makes loading several times slower, so it is never timed.
    tracemalloc.start()
    try:
        with pytest.raises(ScenarioError):
            load_scenario(CORPUS / f"{name}.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100e6, f"{name} used {peak / 1e6:.0f} MB"


def test_problems_in_the_body_carry_line_column_and_key():
    with pytest.raises(ScenarioError) as info:
        load_scenario(CORPUS / "out_of_range_affinity.yaml")
    problem = info.value.problems[0]
    assert problem.path == "relations.arcadia~borduria.affinity"
    assert problem.line is not None and problem.column is not None
    line = (CORPUS / "out_of_range_affinity.yaml").read_text().splitlines()[problem.line - 1]
    assert "arcadia~borduria" in line


def _sparse_file(path, head: bytes, size: int):
    """A file of ``size`` bytes that starts with ``head`` (sparse: nothing is written between)."""
    with path.open("wb") as f:
        f.write(head)
        f.seek(size)
        f.write(b"\n")
    return path


def test_a_hundred_megabyte_file_is_refused_at_once(tmp_path):
    path = _sparse_file(tmp_path / "huge.yaml", b"name: x\ndescription: ", 100 * 2**20)
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match="larger than"):
        load_scenario(path)
    assert time.perf_counter() - started < HANG_GUARD_S


def _sim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


# Where the worker count plays no part: a run, sweep or compare that may use the local pool
# starts its server (importing the model, about 4 s of CPU) before it reads its input
# (tests/test_cli.py keeps one refusal without it, to check such a command still fails at once)
ONE = ("--workers", "1")


@pytest.mark.parametrize("name", ["alias_bomb", "python_object_tag", "non_utf8_bytes",
                                  "unknown_nested_key", "deep_flow_nesting"])
def test_the_cli_reports_hostile_files_with_exit_2_and_no_traceback(name):
    out = _sim("check", str(CORPUS / f"{name}.yaml"))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and out.stderr.startswith("error:")


def test_command_line_misuse(tmp_path):
    cases = [
        (("run", str(FICTIONAL), "--runs", "-3"), "must be at least 1"),
        (("run", str(FICTIONAL), "--runs", "many"), "not a whole number"),
        (("run", str(FICTIONAL), *ONE, "--set", "actors.arcadia.rationality=lots"), "rationality"),
        (("run", str(FICTIONAL), *ONE, "--set", "nonsense"), "PATH=VALUE"),
        (("run", str(tmp_path / "missing.yaml"), *ONE), "file not found"),
        (("run", str(FICTIONAL), "--runs", "2", *ONE, "--out", "/proc/forbidden"), "output folder"),
    ]
    for args, message in cases:
        out = _sim(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_results_of_another_run_are_never_mixed(tmp_path):
    out_dir = tmp_path / "out"
    assert _sim("run", str(FICTIONAL), "--runs", "5", *ONE, "--out", str(out_dir)).returncode == 0
    same = _sim("run", str(FICTIONAL), "--runs", "8", *ONE, "--out", str(out_dir))
    assert same.returncode == 0  # the same scenario and seed: replaced, not mixed
    other = _sim("run", str(FICTIONAL), "--runs", "5", "--seed", "99", *ONE, "--out",
                 str(out_dir))
    assert other.returncode == 2 and "holds results of another run" in other.stderr
    changed = _sim("run", str(FICTIONAL), "--runs", "5", *ONE, "--out", str(out_dir), "--set",
                   "fighting.loss_rate=0.4")
    assert changed.returncode == 2 and "scenario_sha256" in changed.stderr


SWEEP = """design: grid
points: 2
reps: 3
parameters:
  fighting.loss_rate: {levels: [0.1, 0.4]}
"""


def test_a_sweep_file_is_read_like_a_scenario(tmp_path):
    """The --sweep file gets the scenario loader's protections and file:line messages."""
    from sim.design import load_sweep_file
    from sim.errors import UsageError

    good = tmp_path / "good.yaml"
    good.write_text(SWEEP)
    spec = load_sweep_file(good)
    assert (spec["design"], spec["points"], spec["reps"]) == ("grid", 2, 3)
    assert spec["parameters"][0].levels == (0.1, 0.4)
    bomb = (CORPUS / "alias_bomb.yaml").read_text()
    cases = {
        "duplicate.yaml": (SWEEP + "reps: 5\n", f"{tmp_path / 'duplicate.yaml'}:6:1: reps: "
                           "duplicate key (first given on line 3)"),
        "unknown.yaml": (SWEEP.replace("reps: 3", "repz: 3"),
                         f"{tmp_path / 'unknown.yaml'}:3:1: repz: unknown key"),
        "wrong.yaml": (SWEEP.replace("points: 2", "points: 0"),
                       f"{tmp_path / 'wrong.yaml'}:2:1: points: Input should be greater"),
        "nested.yaml": (SWEEP.replace("[0.1, 0.4]", "[0.1, x]"),
                        f"{tmp_path / 'nested.yaml'}:5:"),
        "tag.yaml": (SWEEP.replace("design: grid", "design: !!python/name:os.system grid"),
                     "is not allowed"),
        "bomb.yaml": (bomb, "aliases are expanded"),
        "syntax.yaml": (SWEEP + "  - [\n", "YAML syntax"),
        "missing.yaml": (None, "file not found"),
        # a bad seed: the schema's bounds of run.seed, whole numbers only
        "seed_negative.yaml": (SWEEP + "seed: -1\n", f"{tmp_path / 'seed_negative.yaml'}:6:1: "
                               "seed: Input should be greater than or equal to 0"),
        "seed_huge.yaml": (SWEEP + f"seed: {2**64 + 7}\n", "seed: Input should be less than"),
        "seed_fraction.yaml": (SWEEP + "seed: 1.5\n", "seed: Input should be a valid integer"),
        "seed_boolean.yaml": (SWEEP + "seed: yes\n", "seed: Input should be a valid integer"),
        "seed_text.yaml": (SWEEP + "seed: abc\n", "seed: Input should be a valid integer"),
        # one level, or one level repeated, is not a sweep
        "one_level.yaml": (SWEEP.replace("[0.1, 0.4]", "[0.3]"),
                           f"{tmp_path / 'one_level.yaml'}:5:3: parameters.fighting.loss_rate:"
                           " one level (0.3) is not a sweep"),
        "same_levels.yaml": (SWEEP.replace("[0.1, 0.4]", "[0.3, 0.3]"), "are all 0.3"),
        "no_levels.yaml": (SWEEP.replace("[0.1, 0.4]", "[]"), "the list of levels is empty"),
        "nan_level.yaml": (SWEEP.replace("[0.1, 0.4]", "[0.1, .nan]"), "finite number"),
        "infinite_high.yaml": (SWEEP.replace("{levels: [0.1, 0.4]}", "{low: 0, high: .inf}"),
                               "finite number"),
        "equal_range.yaml": (SWEEP.replace("{levels: [0.1, 0.4]}", "{low: 0.2, high: 0.2}"),
                             "low must be below high"),
        "half_range.yaml": (SWEEP.replace("{levels: [0.1, 0.4]}", "{low: 0.2}"),
                            "give low and high"),
        "design.yaml": (SWEEP.replace("design: grid", "design: fractal"),
                        f"{tmp_path / 'design.yaml'}:1:1: design: unknown design 'fractal'"),
        "reps_huge.yaml": (SWEEP.replace("reps: 3", "reps: 1000000000"),
                           "reps: Input should be less than or equal to 100000000"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(UsageError) as info:
            load_sweep_file(path)
        assert message in str(info.value), (name, str(info.value))
    huge = _sparse_file(tmp_path / "huge.yaml", SWEEP.encode(), 50 * 2**20)
    started = time.perf_counter()
    with pytest.raises(UsageError, match="larger than"):
        load_sweep_file(huge)
    assert time.perf_counter() - started < HANG_GUARD_S


def test_the_cli_reports_a_bad_sweep_file_with_its_line_and_exit_2(tmp_path):
    bad = tmp_path / "sweep.yaml"
    bad.write_text(SWEEP + "reps: 5\n")
    out = _sim("sweep", str(FICTIONAL), "--sweep", str(bad), *ONE, "--out", str(tmp_path / "o"))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert f"{bad}:6:1: reps: duplicate key" in out.stderr


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda text: text + "seed: -1\n", ":6:1: seed: Input should be greater than or equal"),
    (lambda text: text + f"seed: {2**64 + 7}\n", "seed: Input should be less than"),
    (lambda text: text.replace("[0.1, 0.4]", "[0.3]"), "one level (0.3) is not a sweep"),
    (lambda text: text.replace("design: grid", "design: lhs").replace("[0.1, 0.4]", "[0.3]"),
     "one level (0.3) is not a sweep"),
])
def test_a_sweep_file_with_a_bad_seed_or_one_level_is_one_line(tmp_path, edit, fragment):
    bad = tmp_path / "sweep.yaml"
    bad.write_text(edit(SWEEP))
    out = _sim("sweep", str(FICTIONAL), "--sweep", str(bad), "--workers", "1", "--out",
               str(tmp_path / "o"))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert fragment in out.stderr and str(bad) in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("param", "fragment"), [
    ("fighting.loss_rate=0.3", "one level (0.3) is not a sweep"),
    ("fighting.loss_rate=0.3,0.3", "are all 0.3"),
    ("fighting.loss_rate=0:inf", "finite number"),
    ("fighting.loss_rate=nan,0.2", "finite number"),
])
def test_a_param_of_one_level_or_not_finite_is_one_line(tmp_path, param, fragment):
    out = _sim("sweep", str(FICTIONAL), "--param", param, "--design", "lhs", "--points", "4",
               "--workers", "1", "--out", str(tmp_path / "o"))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and fragment in out.stderr, out.stderr
