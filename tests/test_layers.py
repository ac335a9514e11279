"""The import layers of sim/ hold, with no circle, and the README states the same layers.

The contracts are import-linter's, in pyproject.toml ([tool.importlinter]); these tests run
``lint-imports`` on them, show that it does fail on an import against the layers, check that
every module of ``sim`` is in a layer (a new module cannot slip past the contract) and that no
module imports itself through others (TYPE_CHECKING imports count: a circle for the type checker
is one for a reader too).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

from tests.conftest import ROOT

PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _contracts() -> dict[str, dict]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _layers() -> list[str]:
    return [" | ".join(m.strip() for m in layer.split("|"))
            for layer in _contracts()["layers"]["layers"]]


def _lint(config: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on ``config``, analysing this checkout's ``sim`` (not an installed one)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(config), "--no-cache",
                           "--no-logo"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("sim", cache_dir=None)  # TYPE_CHECKING imports included


def test_the_import_contracts_hold():
    result = _lint(PYPROJECT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_import_against_the_layers_breaks_the_contract(tmp_path):
    # the same contracts with the world placed above the mechanisms (which import it)
    text = PYPROJECT.read_text()
    swapped = text.replace('    "sim.mechanisms",\n    "sim.world | sim.rng",\n',
                           '    "sim.world | sim.rng",\n    "sim.mechanisms",\n')
    assert swapped != text
    config = tmp_path / "pyproject.toml"
    config.write_text(swapped)
    result = _lint(config)
    assert result.returncode != 0
    assert "sim.world is not allowed to import sim.mechanisms" not in result.stdout
    assert re.search(r"sim\.mechanisms(\.\w+)? is not allowed to import sim\.world",
                     result.stdout), result.stdout


def test_every_module_is_in_a_layer():
    layered = {m.strip() for layer in _layers() for m in layer.split("|")}

    def placed(module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in layered)

    containers = {"sim", "sim.scenario"}  # packages whose modules are placed one by one
    missing = sorted(m for m in _graph().modules if not placed(m) and m not in containers)
    assert missing == [], f"add {missing} to a layer in pyproject.toml and the README"


def test_no_module_imports_itself_through_others():
    graph = _graph()
    circles = sorted((a, b) for a in graph.modules
                     for b in graph.find_modules_directly_imported_by(a)
                     if graph.chain_exists(importer=b, imported=a))
    assert circles == []


def test_the_readme_states_the_same_layers():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- layers:start -->\n```text\n(.*?)```\n<!-- layers:end -->", readme,
                      re.DOTALL)
    assert block is not None, "README.md lost its layers block"
    assert block.group(1).splitlines() == _layers()
