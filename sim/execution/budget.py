"""What a run will cost before it starts: batches and memory, refused at once when too much.

``sim check`` once called valid a scenario that needed 32 GB (fifty actors over ten years: a
trajectory histogram of every dyad's affinity, every day) and ``--runs 10**12`` built all its
batch ranges before the first ran (2.5 GB, then the kernel's OOM killer). Both are known from
the scenario's size alone, so they are estimated here and refused in a second with the
estimate and what to change, instead of failing after minutes (or taking the machine down).

The estimate counts the big arrays: the trajectory histogram the main process keeps
(``sim.execution.trajectories``: one int64 count per bin per day per series), and per worker
its batch's float32 daily values, its uint32 counts and the model's state, about
``STATE_ARRAYS`` arrays of ``batch x actors x actors`` float64. Small arrays are ignored, so
it is a lower bound within a few tens of percent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sim.errors import UsageError

#: Most batches one run is cut into: their ranges, tasks and part files are all held at once.
MAX_BATCHES = 100_000
#: ``(batch, actors, actors)`` float64 arrays of model state and workspace (sim/day.py, model).
STATE_ARRAYS = 40
#: Share of this machine's memory a run may plan to use (the rest: OS, other programs).
USABLE_SHARE = 0.8


def select_daily(names: list[str], wanted) -> list[str]:
    """The daily series ``wanted`` names, in the order of ``names`` (the model's).

    Args:
        names: Every daily series of the scenario (``sim.world.series_names``).
        wanted: Names or shell-style patterns (``rung.*``, ``losses.<actor>``), or one text
            of them separated by commas (``--daily rung.*,losses.a``).

    Raises:
        UsageError: A name or pattern that matches no series (with the kinds there are).
    """
    from fnmatch import fnmatchcase

    if isinstance(wanted, str):
        wanted = [wanted]
    patterns = [p.strip() for text in wanted for p in str(text).split(",") if p.strip()]
    if not patterns:
        raise UsageError("--daily names no series; give series or patterns, e.g. "
                         "--daily 'rung.*,losses.*'")
    chosen = set()
    for pattern in patterns:
        found = {n for n in names if fnmatchcase(n, pattern)}
        if not found:
            kinds = sorted({n.split(".", 1)[0] + ".*" for n in names})
            near = [n for n in names if n.startswith(pattern.split("*")[0].split(".")[0])][:4]
            raise UsageError(f"--daily {pattern[:60]!r} matches no daily series of this "
                             f"scenario; they are {', '.join(kinds)}"
                             + (f" (e.g. {', '.join(near)})" if near else ""))
        chosen |= found
    return [n for n in names if n in chosen]


def check_daily_size(runs: int, days: int, series: int, budget: int) -> None:
    """Refuse per-run daily series that no results table of this machine could hold.

    ``daily.parquet`` holds ``runs x days`` rows of ``run``, ``day``, ``date`` and one
    column per series; a table is read back only if its decoded size (8 bytes a cell) fits
    ``budget`` (``storage.read_table``), so a larger one is refused before any run.

    Raises:
        UsageError: With the size, and the most runs that fit.
    """
    need = 8 * runs * days * (series + 3)
    if need > budget:
        fit = budget // (8 * days * (series + 3))
        raise UsageError(f"--daily: {runs} runs x {days} days x {series} series make a table "
                         f"of {_size(need)}, more than the {_size(budget)} a results table may "
                         f"take on this machine; choose fewer series, or --runs {fit} or fewer")


def check_batches(runs: int, batch_size: int) -> None:
    """Refuse a run cut into more than ``MAX_BATCHES`` batches, saying which size fits.

    Raises:
        UsageError: With the smallest batch size that fits.
    """
    batches = -(-runs // batch_size)
    if batches > MAX_BATCHES:
        need = -(-runs // MAX_BATCHES)
        raise UsageError(f"{runs} runs in batches of {batch_size} make {batches} batches, more "
                         f"than {MAX_BATCHES}; use --batch-size {need} or more, or fewer --runs")


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs, by part."""

    histogram: int  # the main process's trajectory histogram
    per_worker: int  # one worker's batch: daily values, counts and model state
    workers: int
    series: int  # daily series recorded
    bins: int  # histogram bins per day, over all series
    days: int = 0  # run.days (0: unknown)
    actors: int = 0
    fixed: int = 0  # of the total, bytes that do not grow with the days (the model's state)

    @property
    def total(self) -> int:
        """Main process plus every worker."""
        return self.histogram + self.workers * self.per_worker

    def describe(self) -> str:
        """One line: total, and its parts."""
        return (f"about {_size(self.total)} (trajectory histogram {_size(self.histogram)}: "
                f"{self.series} daily series x {self.bins // max(self.series, 1)} bins on "
                f"average; {self.workers} worker{'s' if self.workers != 1 else ''} x "
                f"{_size(self.per_worker)})")


def estimate_memory(spec, layout, batch_size: int, workers: int = 1,
                    kept_runs: int = 0) -> MemoryEstimate:
    """Estimate a run's peak memory from the scenario's size (see the module docstring).

    Args:
        spec: The scenario.
        layout: Its compiled layout.
        batch_size: Replications per batch.
        workers: Processes running batches at once.
        kept_runs: Runs whose every daily value the main process keeps (a run without an
            output folder keeps them all).
    """
    from sim.execution.trajectories import ensemble_edges
    from sim.world import series_names

    days = layout.days + 1
    series = len(series_names(layout))
    bins = sum(e.size - 1 for e in ensemble_edges(spec, layout))
    actors = len(layout.actors)
    state = STATE_ARRAYS * batch_size * actors * actors * 8
    per_worker = days * batch_size * series * 4 + days * bins * 4 + state
    return MemoryEstimate(histogram=days * bins * 8 + days * kept_runs * series * 4,
                          per_worker=per_worker, workers=workers, series=series, bins=bins,
                          days=layout.days, actors=actors, fixed=workers * state)


def design_rows(kind: str, levels: list[int | None], points: int) -> int:
    """Rows of a design before it is built (``sim.design.make_design``'s sizes).

    Args:
        kind: grid, lhs, sobol or morris.
        levels: Per parameter, its number of listed values (None for a range).
        points: The design's size parameter.
    """
    d = len(levels)
    if kind == "grid":
        rows = 1
        for n in levels:
            rows *= n if n is not None else points
        return rows
    return {"sobol": points * (d + 2), "morris": points * (d + 1)}.get(kind, points)


def check_sweep_size(kind: str, levels: list[int | None], points: int, reps: int,
                     max_runs: int) -> None:
    """Refuse a sweep of more than ``max_runs`` runs before its design is built.

    Raises:
        UsageError: With the number of runs asked for and the bound.
    """
    rows = design_rows(kind, levels, points)
    if rows * reps > max_runs:
        raise UsageError(f"a {kind} design of {rows} points x {reps} replications is "
                         f"{rows * reps} runs, more than {max_runs} (run.runs' bound in the "
                         "schema); use fewer --points, --reps or parameter levels")


def available_memory() -> int | None:
    """Memory this process may use in bytes: the machine's, or its container's limit if lower.

    None where it cannot be told. (A container's cgroup limit, not the host's memory, is
    where the kernel's OOM killer stops a run.)
    """
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    for limit_file in ("/sys/fs/cgroup/memory.max",
                       "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < physical:
            return int(text)
    return physical


def memory_available_now() -> int | None:
    """Memory free for a new allocation now (``MemAvailable``; None where not told)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_available_now(estimate: MemoryEstimate) -> None:
    """Refuse a run that fits this machine but not the memory free right now.

    Why: ``check_memory`` compares with the machine's memory, so that a scenario's verdict
    does not depend on the moment; a 200-actor run that passed it died with a traceback
    allocating its 7.6 GB histogram while other programs held the rest. Checked just before
    the big arrays are allocated.

    Raises:
        UsageError: With what is needed and what is free.
    """
    free = memory_available_now()
    if free is None or estimate.total <= free:
        return
    raise UsageError(f"this run needs {estimate.describe()}, but only {_size(free)} of memory "
                     "is free now (other programs hold the rest); close some, or use fewer "
                     "--workers, a smaller --batch-size or fewer run.days")


def check_memory(estimate: MemoryEstimate, limit: int | None = None) -> None:
    """Refuse a run whose estimate exceeds ``USABLE_SHARE`` of this machine's memory.

    Raises:
        UsageError: With the estimate and what to change.
    """
    limit = limit if limit is not None else available_memory()
    if limit is None or estimate.total <= USABLE_SHARE * limit:
        return
    usable = USABLE_SHARE * limit
    fixes = []
    if estimate.histogram > usable / 2:
        # all but the model's state grows in proportion to the days (and day 0): the
        # horizon that fits
        per_day = (estimate.total - estimate.fixed) / (estimate.days + 1)
        days = int((usable - estimate.fixed) / per_day) - 1 if estimate.days else 0
        fixes.append(f"fewer actors ({estimate.actors} now; the daily series grow with the "
                     "square of their number)")
        if days >= 1:
            fixes.append(f"at most {days} days (--set run.days={days})")
        elif not estimate.days:
            fixes.append("fewer run.days")
    if estimate.workers * estimate.per_worker > usable / 2 or not fixes:
        fixes.append("a smaller --batch-size or fewer --workers")
    fix = ", or ".join(fixes)
    raise UsageError(f"this run needs {estimate.describe()}, more than this machine's "
                     f"{_size(limit)} allows; use {fix}")


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
