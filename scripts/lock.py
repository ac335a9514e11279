"""Write requirements-lock.txt: the exact versions of the test environment, for CI.

Why: `make test` (CI's `.ci/run`) installs crisis-sim with every extra; without pins, each
fresh machine resolves the newest release of ~200 packages, so a release of any of them can
break CI on a commit that changed nothing. The lock pins what the suite last passed with, as
pip *constraints* (`pip install -c requirements-lock.txt -e ".[test,...]"` in
scripts/bootstrap.sh): constraints choose versions but add no package, so the base install
(`make baseline`) and the extras stay what pyproject.toml says.

The lock is read from an installed environment, not resolved afresh: the packages that
crisis-sim with the test extras requires (walked through their metadata, markers evaluated
for this machine), at the versions installed. Packages installed by hand beside them (a
profiler, mutmut) are left out. Run it after a change of pyproject.toml's dependencies and a
passing `make test`:

    .venv/bin/python scripts/lock.py            # writes requirements-lock.txt (or: make lock)
    .venv/bin/python scripts/lock.py --check    # exit 1 if the file is not what it would write
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import platform
import re
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-lock.txt"
PROJECT = "crisis-sim"
#: the extras `make test` installs (scripts/bootstrap.sh test)
EXTRAS = ("test", "app", "discover", "notebooks", "cluster")


def canonical(name: str) -> str:
    """PEP 503 normalised name (``Solara_Assets`` -> ``solara-assets``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def required(project: str, extras: tuple[str, ...]) -> dict[str, str]:
    """``{name: version}`` of every installed package ``project[extras]`` needs, transitively.

    Raises:
        SystemExit: A required package is not installed (the environment is incomplete).
    """
    base_env = default_environment()
    found: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(project, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (canonical(name), wanted) in seen:
            continue
        seen.add((canonical(name), wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"error: {name} is required but not installed; run make env-test "
                             "first") from None
        if canonical(name) != canonical(project):
            found[canonical(name)] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(
                    req.marker.evaluate({**base_env, "extra": extra})
                    for extra in (wanted or {""})):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return found


def render(pins: dict[str, str]) -> str:
    """The lock file's text: a header saying how it was made, then ``name==version`` lines."""
    header = (f"# The test environment's exact versions (pip constraints), written by "
              f"scripts/lock.py (make lock)\n# from {PROJECT}[{','.join(EXTRAS)}] installed "
              f"on Python {platform.python_version()} ({sys.platform}); scripts/bootstrap.sh "
              "test installs with -c this file.\n")
    return header + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins))


def main(argv: list[str] | None = None) -> int:
    """Write (or ``--check``) ``requirements-lock.txt``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the lock differs from this environment")
    args = parser.parse_args(argv)
    text = render(required(PROJECT, EXTRAS))
    if args.check:
        old = LOCK.read_text() if LOCK.exists() else ""
        strip = lambda t: [x for x in t.splitlines() if not x.startswith("#")]  # noqa: E731
        if strip(old) != strip(text):
            print(f"{LOCK.name} differs from this environment; run make lock", file=sys.stderr)
            return 1
        return 0
    LOCK.write_text(text)
    print(f"{LOCK.name}: {text.count('==')} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
