"""The four kinds of report (`sim report` of a run, a Sobol sweep with discovery, a scored run
drawing a posterior, a comparison) built small with the command line, opened in Debian's
headless chromium by Playwright, screenshotted whole into ``outputs/test-artifacts/`` (for a
reviewer) and checked for the structure those screenshots show: figures in the story's order
with a caption under each that says what to read, a Sobol table for every outcome the sweep
printed indices for, the effective sample size rounded, "never" instead of a day number, the
reliability diagram's event count, effects by construction marked, and a scenario name with
``<script>`` shown as text.

The folders are made once for the module (about 20 s of runs on one core); each test reads
the page from the browser, not the HTML text, so what is checked is what a reader sees.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from sim.cli import main
from sim.plots import CHAPTERS, figure_story

from .conftest import BASELINE, COUNTERFACTUALS, ROOT, SCENARIOS
from .test_app_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.slow

EVIL_NAME = "<script>window.pwned = 1</script> Idlib & co"
EARLY = SCENARIOS / "calibration" / "idlib_2020_early.yaml"
EARLY_OBS = SCENARIOS / "calibration" / "idlib_2020_early.observations.yaml"


def _sim(*argv) -> str:
    """Run one ``sim`` command in this process; its printed output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([str(a) for a in argv])
    assert code == 0, out.getvalue()[-2000:]
    return out.getvalue()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The four results folders, reported; and the outcomes the sweep printed indices for."""
    root = tmp_path_factory.mktemp("reports")
    small = ("--workers", 1, "--no-progress")
    run = root / "run"
    _sim("run", BASELINE, "--runs", 40, "--seed", 3, "--set", f"name={EVIL_NAME}",
         "--out", run, *small)
    sweep = root / "sweep"
    (root / "sobol.yaml").write_text(
        "design: sobol\npoints: 8\nreps: 4\nparameters:\n"
        "  actors.turkey.war_cost: {low: 0.0, high: 0.1}\n"
        "  fighting.loss_rate: {low: 0.05, high: 0.3}\n")
    printed = _sim("sweep", BASELINE, "--sweep", root / "sobol.yaml", "--seed", 3,
                   "--out", sweep, *small)
    _sim("discover", sweep, "--outcome", "war_turkey_syria")
    compare = root / "compare"
    _sim("compare", BASELINE, COUNTERFACTUALS / "patriots_day0.yaml", "--runs", 40,
         "--seed", 3, "--out", compare, *small)
    calibration = root / "calibration"
    _sim("calibrate", EARLY, EARLY_OBS, "--simulations", 300, "--population", 100,
         "--generations", 2, "--out", calibration, "--no-progress")
    scored = root / "scored"
    _sim("run", EARLY, "--posterior", calibration / "posterior.json", "--runs", 40,
         "--out", scored, *small)
    _sim("score", scored, EARLY_OBS)
    for folder in (run, sweep, compare, scored):
        _sim("report", folder)
    # the outcomes the sweep printed Sobol indices for: "  name" lines above indented rows
    sobol = re.findall(r"^  (\w+)\n    \S+\s+S1 ", printed, flags=re.M)
    return {"run": run, "sweep": sweep, "compare": compare, "scored": scored,
            "sobol": sobol}


TILE = 4000  # px: one capture of a 10,000-16,000 px page came back empty (0 bytes) in CI


def _save_whole_page(page, path) -> None:
    """A full-page screenshot, captured in tiles of at most TILE pixels and stitched.

    Chromium's single capture of a very tall page is unreliable (it returned an empty image
    once in CI for the 10,034 px sweep report; upstream: playwright#4038, #28098). A tile that
    comes back empty is captured once more; a second empty one fails the test, saying where.
    """
    from PIL import Image

    width, height = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    whole = Image.new("RGB", (width, height), "white")
    for top in range(0, height, TILE):
        clip = {"x": 0, "y": top, "width": width, "height": min(TILE, height - top)}
        for _ in range(2):
            png = page.screenshot(clip=clip, full_page=True)
            if png:
                break
        assert png, f"chromium returned an empty image twice for {path.name} at y={top}"
        whole.paste(Image.open(io.BytesIO(png)).convert("RGB"), (0, top))
    whole.save(path)


@pytest.fixture(scope="module")
def pages(folders):
    """Each report's structure as the browser shows it, with a full-page screenshot saved."""
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run scripts/test-setup.sh (make test does)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shown = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for kind in ("run", "sweep", "compare", "scored"):
            page.goto((folders[kind] / "report.html").as_uri())
            _save_whole_page(page, ARTIFACTS / f"report-{kind}.png")
            shown[kind] = page.evaluate("""() => ({
                title: document.querySelector('h1').textContent,
                scripts: document.scripts.length, pwned: window.pwned === 1,
                text: document.body.innerText,
                h2: [...document.querySelectorAll('h2')].map(h => h.textContent),
                chapters: [...document.querySelectorAll('h3.chapter')].map(h => h.textContent),
                figures: [...document.querySelectorAll('figure')].map(f => ({
                    name: f.dataset.name, caption: f.querySelector('figcaption').innerText,
                    width: f.querySelector('img').naturalWidth,
                    shown: f.querySelector('img').getBoundingClientRect().width,
                    section: (() => { let e = f; while (e && e.tagName !== 'H2')
                        e = e.previousElementSibling || e.parentElement; return e ?
                        e.textContent : ''; })()})),
                sobol: [...document.querySelectorAll('table.sensitivity')].map(
                    t => t.previousElementSibling.textContent),
                quantities: [...document.querySelectorAll('#score-quantities tr')].map(
                    r => [...r.cells].map(c => c.innerText)),
                comparison: [...document.querySelectorAll('#comparison tr')].map(
                    r => [...r.cells].map(c => c.innerText)),
            })""")
        browser.close()
    assert errors == []
    return shown


@pytest.mark.parametrize("kind", ["run", "sweep", "compare", "scored"])
def test_figures_are_told_in_the_storys_order_with_a_caption_to_read(pages, kind):
    shown = pages[kind]
    figures = [f for f in shown["figures"] if f["section"] == "Figures"]
    assert figures, f"the {kind} report shows no figures"
    names = [f["name"] for f in figures]
    assert names == [s["stem"] for s in figure_story(names)]  # the story's order
    assert shown["chapters"] == [c for c in CHAPTERS if c in shown["chapters"]]
    assert shown["chapters"][0] == "Outcomes"
    for f in shown["figures"]:
        assert f["width"] > 0, f"{f['name']} is not drawn"
        # not a 2100-px chart shrunk to half width (its text about 6 pt on the page)
        assert f["shown"] >= 0.55 * f["width"], (f["name"], f["shown"], f["width"])
        caption = f["caption"].strip()
        # a sentence saying what to read, never the file name ("fan affinity")
        assert caption.lower() != f["name"].replace("_", " ") and len(caption.split()) >= 10
    if kind == "run":
        assert names[:2] == ["outcomes", "levels_rung"]  # the headline figures first
        assert names.index("fan_people") < names.index("fan_losses") < names.index("network")


def test_a_scenario_name_with_markup_is_shown_as_text(pages):
    run = pages["run"]
    assert run["title"] == EVIL_NAME
    assert run["scripts"] == 0 and not run["pwned"]


def test_the_values_a_run_drew_are_written_as_words(pages):
    text = pages["run"]["text"]
    assert "Uncertain assumptions" in pages["run"]["h2"]
    text = text[text.index("Uncertain assumptions"):text.index("\nFigures\n")]
    assert "{'dist'" not in text  # not the manifest's dict (the Manifest section has it)
    assert re.search(r"actors\.turkey\.rationality: lognormal, median [\d.]+, sigma", text)


def test_the_sweep_tables_sobol_indices_for_every_outcome_it_printed(pages, folders):
    sweep = pages["sweep"]
    import json

    sensitivity = json.loads((folders["sweep"] / "sensitivity.json").read_text())
    outcomes = [t.removeprefix("outcome.") for t in sensitivity["results"]
                if t.startswith("outcome.")]
    assert folders["sobol"] and folders["sobol"] == outcomes  # what the CLI printed
    assert sweep["sobol"] == folders["sobol"]
    assert "Sensitivity (Sobol indices)" in sweep["h2"]
    assert any(h.startswith("Scenario discovery") for h in sweep["h2"])
    names = [f["name"] for f in sweep["figures"]]
    assert {f"sensitivity_{o}" for o in folders["sobol"]} <= set(names)
    assert {"discovery_tradeoff", "discovery_box"} <= set(names)
    assert "built-in method" not in sweep["text"]  # each swept range is written out
    assert "actors.turkey.war_cost: 0.0 to 0.1" in sweep["text"]
    # an index outside 0..1 is named as estimation noise, with its interval
    results = sensitivity["results"]
    outside = sum(1 for t, r in results.items() if t.startswith("outcome.")
                  for k in ("S1", "ST") for v in r[k] if not 0 <= v <= 1)
    assert sweep["text"].count("which a share of variance cannot be") == outside


def test_a_scored_run_reads_as_a_reader_reads_it(pages, folders):
    scored = pages["scored"]
    text = scored["text"]
    ess = re.search(r"effective sample size ([^)]*)\)", text).group(1)
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", ess), ess  # 2,005 not 2005.4494349123581
    posterior = [f for f in scored["figures"] if f["name"] == "posterior"]
    assert len(posterior) == 1 and posterior[0]["section"] == "Calibrated values"
    import json

    score = json.loads((folders["scored"] / "score.json").read_text())
    never = [r for r in score["days_of_events"] if r["observed"] >= r["never_day"]]
    assert never, "the observations should include an event that never happened"
    rows = {r[0]: r for r in scored["quantities"][1:]}
    for r in never:
        assert rows[f"day of {r['outcome']}"][1] == "never"
        assert str(r["never_day"]) not in rows[f"day of {r['outcome']}"][1:4]
    reliability = [f for f in scored["figures"] if f["name"] == "reliability"]
    assert len(reliability) == 1
    assert f"the {len(score['events'])} scored event" in reliability[0]["caption"]
    assert "count n" in reliability[0]["caption"]


def test_a_comparison_marks_the_effect_by_construction(pages):
    compare = pages["compare"]
    assert compare["title"] == "Comparison: patriots_day0 against idlib_2020"
    rows = [r for r in compare["comparison"][1:] if "by construction" in r[3]]
    assert [(r[0], r[1]) for r in rows] == [("patriots_deployed", "patriots_day0")]
    others = [r for r in compare["comparison"][1:] if r[3] and r not in rows]
    assert others and all("by construction" not in r[3] for r in others)
    assert [f["name"] for f in compare["figures"]] == ["comparison"]
    assert "Marked by construction: patriots_deployed in patriots_day0" in compare["text"]


def test_the_screenshots_are_saved_for_a_reviewer(pages):
    for kind in pages:
        assert (ARTIFACTS / f"report-{kind}.png").stat().st_size > 50_000
    assert ARTIFACTS.is_relative_to(ROOT)
