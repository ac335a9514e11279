"""The packaging: the lock CI installs agrees with pyproject.toml; the app's assets are offline.

`make test` installs with `-c requirements-lock.txt` (scripts/bootstrap.sh): a pin that
contradicts a requirement of pyproject.toml would make that install fail on a fresh machine
(pip: ResolutionImpossible), so it is caught here, in a second, before CI.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_satisfies_every_requirement_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in ("test", "app", "discover", "notebooks", "cluster"):
        requirements += project["optional-dependencies"][extra]
    pins = _lock()
    checked = 0
    for text in requirements:
        req = Requirement(text)
        name = _canonical(req.name)
        assert name in pins, f"{name} is required but not in requirements-lock.txt (make lock)"
        assert Version(pins[name]) in req.specifier, \
            f"requirements-lock.txt pins {name}=={pins[name]}, outside {text!r}: make lock"
        checked += 1
    assert checked >= 20


def test_lock_is_pins_only_and_sorted():
    lines = [x for x in (ROOT / "requirements-lock.txt").read_text().splitlines()
             if not x.startswith("#")]
    names = [x.split("==")[0] for x in lines]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*==[0-9][^ ;\[]*", x) for x in lines), \
        "constraints hold no extras, markers or URLs"
    assert not any(x.startswith("crisis-sim==") for x in lines)


def test_lock_script_writes_what_is_installed(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    pins = lock.required("crisis-sim", lock.EXTRAS)
    # the base's and each extra's own requirements are found, crisis-sim itself is not
    for name in ("mesa", "numpy", "networkx", "ema-workbench", "solara-assets", "pytest"):
        assert name in pins
    assert "crisis-sim" not in pins
    monkeypatch.setattr(lock, "LOCK", tmp_path / "lock.txt")
    assert lock.main([]) == 0
    assert lock.main(["--check"]) == 0
    (tmp_path / "lock.txt").write_text("numpy==0.1\n")
    assert lock.main(["--check"]) == 1


def test_solara_assets_hold_every_asset_the_page_requests():
    """The app works offline only if solara-assets bundles what solara's page asks a CDN for."""
    pytest.importorskip("solara_assets")
    import solara

    templates = Path(solara.__file__).parent / "server" / "templates"
    wanted = set()
    for template in templates.glob("*.j2"):
        for path in re.findall(r"\{\{ *cdn *\}\}/([^\"' ]+)", template.read_text()):
            match = re.match(r"((?:@[^/]+/)?[^/@]+@[^/]+)", path)
            if match:
                wanted.add(match.group(1))
    # the Vue 3 bundle is requested only under ipyvuetify 3, which the app extra excludes
    wanted = {w for w in wanted if "vuetify3" not in w}
    assert any(w.startswith("@widgetti/solara-vuetify-app@") for w in wanted)
    bundled = Path(sys.prefix) / "share" / "solara" / "cdn"
    missing = sorted(w for w in wanted if not (bundled / w).is_dir())
    assert not missing, (f"solara {solara.__version__} requests {missing}, which solara-assets "
                         "lacks: hold solara to a release whose assets it bundles")
