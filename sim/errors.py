"""Typed errors and exit codes. The CLI turns errors into one message per problem and exit 2.

The exit codes live here, below every command (``sim.cli`` and ``sim.validation.commands``
both return them), so that no command module imports another for a constant.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from difflib import get_close_matches
from itertools import islice
from pathlib import Path

#: True while the command line runs a command: errors then name its flags (``--points``), as
#: the user typed them; under the Python API they name keyword arguments (``points=``).
CLI_WORDING: ContextVar[bool] = ContextVar("cli_wording", default=False)

#: Exit codes of the ``sim`` commands: success; a problem the user can fix (a ``SimError``,
#: a bad argument); stopped by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 2, 130


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we know.

    Attributes:
        file: File the problem is in ('<command line>' for ``--set``).
        path: Dotted key path, e.g. ``actors.<id>.interests.losses``.
        message: What is wrong and, where we can tell, how to fix it.
        line: 1-based line in ``file``, if known.
        column: 1-based column in ``file``, if known.
    """

    file: str
    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class SimError(Exception):
    """Base of the errors the CLI reports without a traceback."""


class ScenarioError(SimError):
    """A scenario (or an override of one) is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(SimError):
    """The command line asks for something impossible (bad flag values, unwritable paths)."""


class RunInterruptedError(Exception):
    """An ensemble or sweep was stopped (Ctrl-C); finished batches are on disk."""

    def __init__(self, done: int, total: int, out_dir: Path | None) -> None:
        self.done, self.total, self.out_dir = done, total, out_dir
        super().__init__(f"interrupted after {done} of {total} batches")


#: files of a folder looked at for a "did you mean" (a folder of thousands is not listed whole)
_SIBLINGS_READ = 1000


def not_found(path: str | Path) -> str:
    """``file not found``, and the closest file of the same kind beside it, if one is close.

    ``scenarios/idlib2020.yaml`` -> ``file not found; did you mean
    'scenarios/idlib_2020.yaml'?`` Only names are read, of at most ``_SIBLINGS_READ`` entries.
    """
    path = Path(path)
    try:
        names = [p.name for p in islice(path.parent.iterdir(), _SIBLINGS_READ)
                 if p.suffix == path.suffix and p.name != path.name]
    except OSError:
        names = []
    close = get_close_matches(path.name, names, n=1, cutoff=0.75)
    return "file not found" + (f"; did you mean '{path.parent / close[0]}'?" if close else "")
