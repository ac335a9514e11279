"""Storage of ensemble results: Parquet tables, JSON summaries, and atomic writes.

Every file is written to a temporary name in the same folder and renamed into place, so a
crash leaves either the old file or the new one, never half of one. Batch parts land in
``parts/`` as they finish, so finished work survives an interruption.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.analysis import QUANTILES as QUANTILE_LEVELS


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The temporary file is created new (``mkstemp``: a random name, never through an existing
    file or symlink), and the rename replaces a symlink at ``path`` rather than writing to
    its target: a received results folder cannot redirect the write elsewhere.
    """
    with _temporary_beside(path) as (handle, tmp):
        handle.write(data)
    os.replace(tmp, path)


def _umask() -> int:
    """This process's umask, read without changing it where the system says (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)  # elsewhere: set and restore (the only portable way to read it)
    os.umask(old)
    return old


def _mode_for(path: Path) -> int:
    """The mode of the file ``path`` will be: its old mode, else 0666 less the umask.

    The mode of the regular file it replaces, else what ``open`` gives a new file.
    ``mkstemp`` creates its files 0600 (right for a temporary, wrong for a result): renamed
    into place, every JSON result and figure would be private, and a README written through
    ``sim validate --readme`` would lose its mode.
    """
    try:
        info = os.lstat(path)
    except OSError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode):
        return stat.S_IMODE(info.st_mode)
    return 0o666 & ~_umask()


@contextlib.contextmanager
def _temporary_beside(path: Path):
    """``(binary file, its path)``, new in ``path``'s folder; removed if the block fails.

    The file is given the mode of the file it will replace (``_mode_for``) before anything
    is written into it.
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _mode_for(path))
            yield handle, Path(name)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def save_figure(fig, path: Path, fmt: str, dpi: float | None = None) -> None:
    """``fig.savefig`` to ``path`` through a new temporary file and a rename (see above).

    Every command that writes a figure writes it here (plot, discover, calibrate), so none
    writes through a symlink a received folder planted at the figure's name.
    """
    extra = {} if dpi is None else {"dpi": dpi}
    with _temporary_beside(path) as (handle, tmp):
        fig.savefig(handle, format=fmt, bbox_inches="tight", **extra)
    os.replace(tmp, path)


def figures_folder(folder: Path) -> Path:
    """``folder/figures``, created if missing; refused if it is a symlink or a file.

    Raises:
        UsageError: ``figures`` is a symlink (a received folder's way to send the figures
            elsewhere) or not a folder.
    """
    from sim.errors import UsageError

    out = Path(folder) / "figures"
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"{out} is a symlink or a file, not a folder; remove it and run the "
                         "command again")
    out.mkdir(exist_ok=True)
    return out


def write_json(path: Path, data: object) -> None:
    """Write JSON atomically (sorted keys, readable indentation)."""
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
                       .encode())


def columns_to_table(columns: dict[str, np.ndarray]) -> pa.Table:
    """An Arrow table; NaN in ``day.*`` columns becomes null ("never happened")."""
    arrays = {}
    for name, values in columns.items():
        values = np.asarray(values)
        if name.startswith("day."):
            arrays[name] = pa.array(values, type=pa.float64(), mask=np.isnan(values))
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def write_parquet(path: Path, table: pa.Table) -> None:
    """Write a Parquet file atomically (a failed write leaves no temporary behind).

    The temporary's name is predictable (``remove_leftovers`` finds a killed run's by it), so
    whatever is at that name (a symlink a received folder planted) is removed and the file
    created new, never opened through a link.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0), 0o666)
        with os.fdopen(fd, "wb") as handle:
            pq.write_table(table, handle)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


class Staging:
    """The files of one result, written beside their final names, renamed into place together.

    Why: each file is atomic, but a result is several files. A finished result replaced
    file by file by a run whose disk fills at the third file would leave new runs next to
    the old summary, a folder that reads fine and is wrong. Staged, a failure removes the
    staged files (giving their space back) and leaves every earlier file as it was; the
    renames at the end need no space.

    Use ``with Staging() as stage: write_json(stage.path(folder / "x.json"), ...)``.
    """

    SUFFIX = ".staged-"  # ``.<name>.staged-<pid>``: outdir removes leftovers of a killed run

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []

    def path(self, final: Path) -> Path:
        """Where to write what will become ``final``."""
        staged = final.with_name(f".{final.name}{self.SUFFIX}{os.getpid()}")
        self.pending.append((staged, final))
        return staged

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            for staged, final in self.pending:
                os.replace(staged, final)
        else:
            for staged, _ in self.pending:
                staged.unlink(missing_ok=True)
        self.pending = []


#: Most bytes a table read from a results folder may take in memory, whatever the file's
#: size: a quarter of this machine's memory, at most 4 GB (``_table_budget``).
MAX_TABLE_BYTES = 4_000_000_000


def _table_budget() -> int:
    from sim.execution.budget import available_memory

    memory = available_memory()
    return min(MAX_TABLE_BYTES, memory // 4) if memory else MAX_TABLE_BYTES


@contextlib.contextmanager
def _parquet_file(path: Path, budget: int):
    """``pq.ParquetFile`` of a regular file of at most ``budget`` bytes (else one line)."""
    from sim.errors import UsageError

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UsageError(f"{path} is missing") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path}: not a regular file; not a table sim wrote")
        if info.st_size > budget:
            raise UsageError(f"{path}: larger than {budget} bytes; not a table sim wrote")
        try:
            parquet = pq.ParquetFile(handle)
        except (pa.ArrowException, OSError, ValueError) as exc:
            why = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise UsageError(f"{path} is damaged or incomplete ({why}); run the results again "
                             "into a new --out") from None
        yield parquet, handle


def table_columns(path: Path) -> list[str]:
    """The column names of a results folder's table (its footer only; regular files only)."""
    with _parquet_file(path, _table_budget()) as (parquet, _):
        return list(parquet.schema_arrow.names)


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A Parquet table of a results folder, read as untrusted input: sizes checked first.

    A file of under 1 MB can decode to gigabytes (a dictionary- or run-length-encoded
    column: one value repeated a billion times; one long string in every row). So before
    anything is decoded, the sizes the file's metadata states are checked against what
    this machine can hold: rows times columns (8 bytes each), and the pages' uncompressed
    bytes; strings are read dictionary-encoded and their decoded length counted before
    they are expanded. Only regular files are opened (never a FIFO or device), and only
    flat columns (numbers, strings, dates) are read: the tool writes nothing else.

    Every command that reads a results folder's tables reads them here (score, plot,
    report, discover, the app).

    Raises:
        UsageError: Missing, not a regular file, damaged, or larger than allowed (one line).
    """
    import pyarrow.compute as pc

    from sim.errors import UsageError
    from sim.safety import UnsafeFileError

    budget = _table_budget()
    with _parquet_file(path, budget) as (parquet, handle):
        try:
            meta, schema = parquet.metadata, parquet.schema_arrow
            names = schema.names if columns is None else list(columns)
            absent = [n for n in names if n not in schema.names]
            if absent:
                raise UnsafeFileError(f"no column {absent[0][:80]!r}")
            fields = [schema.field(n) for n in names]
            nested = [f.name for f in fields if pa.types.is_nested(f.type)
                      or pa.types.is_dictionary(f.type)]
            if nested:
                raise UnsafeFileError(f"column {nested[0][:80]!r} is not a flat column")
            cells = meta.num_rows * max(len(names), 1)
            wanted = {schema.get_field_index(n) for n in names}
            stated = sum(meta.row_group(g).column(c).total_uncompressed_size
                         for g in range(meta.num_row_groups)
                         for c in range(meta.num_columns) if c in wanted)
            if 8 * cells > budget or stated > budget:
                raise UnsafeFileError(f"states {meta.num_rows} rows x {len(names)} columns "
                                      f"({max(8 * cells, stated)} bytes decoded), more than "
                                      f"the {budget} bytes allowed")
            text = [f.name for f in fields if pa.types.is_string(f.type)
                    or pa.types.is_large_string(f.type) or pa.types.is_binary(f.type)
                    or pa.types.is_large_binary(f.type)]
            if text:  # strings stay dictionary-encoded until their size is known
                parquet = pq.ParquetFile(handle, metadata=meta, read_dictionary=text)
            table = parquet.read(columns=names)
            for name in text:  # the bytes the strings take once expanded, before expanding
                column = table.column(name)
                size = 0
                for chunk in column.chunks:
                    if isinstance(chunk, pa.DictionaryArray):
                        lengths = pc.binary_length(chunk.dictionary).fill_null(0)
                        size += int(pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0)
                    else:
                        size += chunk.nbytes
                if size > budget:
                    raise UnsafeFileError(f"column {name[:80]!r} decodes to {size} bytes, more "
                                          f"than the {budget} allowed")
                index = table.column_names.index(name)
                table = table.set_column(index, name, column.cast(schema.field(name).type))
        except UnsafeFileError as exc:
            raise UsageError(f"{path}: {exc}; not a table sim wrote") from None
        except (pa.ArrowException, OSError, ValueError, IndexError) as exc:
            why = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise UsageError(f"{path} is damaged or incomplete ({why}); run the results again "
                             "into a new --out") from None
    return table


def read_runs(path: Path, columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read a runs table (or some of its columns) back as numpy arrays (nulls become NaN).

    Through ``read_table``: sizes checked before anything is decoded.
    """
    table = read_table(path, columns=columns)
    return {name: table.column(name).to_numpy(zero_copy_only=False)
            for name in table.column_names}


def part_path(out_dir: Path, start: int, stop: int) -> Path:
    """Where the rows of batch ``start..stop`` are kept until the run is assembled."""
    return out_dir / "parts" / f"runs-{start:010d}-{stop:010d}.parquet"


def trajectory_table_from(series: list[str], quantiles: np.ndarray, means: np.ndarray,
                          start: dt.date) -> pa.Table:
    """Long table of daily quantiles across runs: day, date, series, mean and quantiles.

    Args:
        series: Names of the S series.
        quantiles: ``(len(QUANTILE_LEVELS), days, S)``.
        means: ``(days, S)``.
        start: Calendar date of day 0.
    """
    days = means.shape[0]
    day_index = np.repeat(np.arange(days), len(series))
    dates = [start + dt.timedelta(days=int(d)) for d in day_index]
    data = {"day": day_index, "date": dates, "series": np.tile(series, days),
            "mean": means.reshape(-1)}
    for level, values in zip(QUANTILE_LEVELS, quantiles, strict=True):
        data[f"q{int(level * 100):02d}"] = values.reshape(-1)
    return pa.table(data)


def levels_table(series: list[str], shares: list[tuple[int, np.ndarray]],
                 start: dt.date) -> pa.Table:
    """Long table of each level's share of runs per day, for series of levels.

    Args:
        series: Names of all S series.
        shares: ``(series index, (days, levels) shares)`` from
            ``TrajectoryHistogram.level_shares``.
        start: Calendar date of day 0.

    Returns:
        Columns day, date, series, level (0 = the first rung, or 0/1 for "not in force"/"in
        force" and "closed"/"open") and share (of runs, 0..1); every level of every day.
    """
    day_col, series_col, level_col, share_col = [], [], [], []
    for s, table in shares:
        days, levels = table.shape
        day_col.append(np.repeat(np.arange(days), levels))
        level_col.append(np.tile(np.arange(levels), days))
        series_col += [series[s]] * (days * levels)
        share_col.append(table.reshape(-1))
    days = np.concatenate(day_col) if day_col else np.zeros(0, dtype=np.int64)
    return pa.table({
        "day": pa.array(days, pa.int64()),
        "date": pa.array([start + dt.timedelta(days=int(d)) for d in days], pa.date32()),
        "series": pa.array(series_col, pa.string()),
        "level": pa.array(np.concatenate(level_col) if level_col else days, pa.int64()),
        "share": pa.array(np.concatenate(share_col) if share_col else np.zeros(0), pa.float64()),
    })


def paths_table(series: list[str], runs: np.ndarray, paths: np.ndarray,
                start: dt.date) -> pa.Table:
    """Wide table of full daily paths for sample runs: run, day, date, one column per series."""
    days, n_runs, _ = paths.shape
    run_col = np.repeat(runs, days)
    day_col = np.tile(np.arange(days), n_runs)
    data = {"run": run_col, "day": day_col,
            "date": [start + dt.timedelta(days=int(d)) for d in day_col]}
    flat = np.transpose(paths, (1, 0, 2)).reshape(n_runs * days, -1)
    for i, name in enumerate(series):
        data[name] = flat[:, i]
    return pa.table(data)


def daily_table(series: list[str], runs: np.ndarray, values: np.ndarray,
                start: dt.date) -> pa.Table:
    """Every run's daily values of some series (``daily.parquet``, ``sim run --daily``).

    Args:
        series: Names of the K series.
        runs: ``(n,)`` run indices.
        values: ``(days, n, K)`` float32.
        start: Calendar date of day 0.

    Returns:
        Columns run, day, date, then one float32 column per series; one row per run and
        day, ordered by run, then day (as ``paths.parquet``).
    """
    days, n, _ = values.shape
    day = np.tile(np.arange(days, dtype=np.int64), n)
    flat = np.transpose(values, (1, 0, 2)).reshape(n * days, -1)
    dates = (np.datetime64(start, "D") + day).astype("datetime64[D]")
    data = {"run": pa.array(np.repeat(np.asarray(runs, np.int64), days)),
            "day": pa.array(day), "date": pa.array(dates, pa.date32())}
    for i, name in enumerate(series):
        data[name] = pa.array(flat[:, i].astype(np.float32, copy=False))
    return pa.table(data)


def daily_arrays(table: pa.Table) -> dict[str, np.ndarray]:
    """``daily.parquet``'s series as ``(runs, days)`` arrays, rows in the order of ``run``.

    Raises:
        ValueError: The table is not one row per run and day (not a table sim wrote).
    """
    run = table.column("run").to_numpy()
    day = table.column("day").to_numpy()
    runs = np.unique(run)
    days = int(day.max()) + 1 if day.size else 0
    if run.size != runs.size * days:
        raise ValueError("daily.parquet is not one row per run and day")
    order = np.lexsort((day, run))
    if not (np.array_equal(day[order], np.tile(np.arange(days), runs.size))):
        raise ValueError("daily.parquet is not one row per run and day")
    return {name: table.column(name).to_numpy().astype(np.float32)[order]
            .reshape(runs.size, days)
            for name in table.column_names if name not in ("run", "day", "date")}
