"""End to end: `sim app` served on loopback, driven in Debian's headless chromium by Playwright.

``scripts/test-setup.sh`` (run by ``make test``) installs chromium; Playwright cannot download
a browser on these machines, so it is pointed at /usr/bin/chromium. One server and one browser
page serve the whole module (the tests run in order, each on the page the last one left); each
test saves a screenshot of the page it checks in ``outputs/test-artifacts/``
(``app-one-run.png``, ``app-ensemble.png``, ``app-results-sweep.png``,
``app-results-compare.png``, ``app-results-refused.png``) and asserts the structure the
screenshot shows.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import BASELINE, ROOT, SCENARIOS

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "outputs" / "test-artifacts"
# Without the background-networking flags chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1500, "height": 1150}
TALL = {"width": 1500, "height": 2300}  # a results page, whole
PERCENT = re.compile(r"^\d{1,3}\.\d%$")
PERCENT_INTERVAL = re.compile(r"^\d{1,3}\.\d – \d{1,3}\.\d%$")
POINTS = re.compile(r"^[+-]\d{1,3}\.\d pts$")
POINTS_INTERVAL = re.compile(r"^[+-]\d{1,3}\.\d – [+-]\d{1,3}\.\d pts$")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results root: a sweep with its scenario discovery, and a comparison; beside it, a
    results folder outside the root, and a symlink in the root that leads to it."""
    from sim import api

    base = tmp_path_factory.mktemp("app").resolve()
    root = base / "outputs"
    sweep = root / "idlib-sweep"
    api.sweep(BASELINE, {"actors.turkey.war_cost": (0.0, 0.1),
                         "fighting.loss_rate": (0.05, 0.3)},
              points=10, reps=6, seed=1, workers=1, out=sweep, progress=False)
    api.discover(sweep, outcome="war_turkey_syria")
    api.compare([BASELINE, SCENARIOS / "counterfactuals" / "patriots_day0.yaml"], runs=100,
                workers=1, out=root / "patriots", progress=False)
    outside = base / "elsewhere"
    api.run(BASELINE, runs=20, workers=1, out=outside, progress=False)
    (root / "escape").symlink_to(outside)
    return root, outside


@pytest.fixture(scope="module")
def server(results):
    """`sim app --results ROOT` on a free loopback port, in its own process group."""
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run scripts/test-setup.sh (make test does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    root, _outside = results
    port = _free_port()
    log = (ARTIFACTS / "app-server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "app", "scenarios/idlib_2020.yaml", "--port", str(port),
         "--results", str(root)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"sim app did not start; see {ARTIFACTS / 'app-server.log'}")
        time.sleep(0.5)
    yield url, process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


@pytest.fixture(scope="module")
def page(server):
    """One chromium page on the app for the whole module; page errors are checked at the end."""
    from playwright.sync_api import expect, sync_playwright

    # Hang guards, not speed checks: on a loaded 2-core machine re-creating the model on Reset
    # takes longer than Playwright's 5 s default (the suite failed there with both cores busy).
    expect.set_options(timeout=60_000)
    url, process = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport=VIEWPORT)
        tab.set_default_timeout(60_000)
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.goto(url)
        tab.get_by_text("Day 0 of 120").wait_for(timeout=90_000)
        yield tab
        browser.close()
    assert process.poll() is None, "the server stopped"
    assert not errors, errors


def _rows(table) -> list[list[str]]:
    """The text of each body cell of a table, row by row."""
    return table.evaluate(
        "t => [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.innerText))")


def _headers(table) -> list[str]:
    return table.evaluate("t => [...t.querySelectorAll('thead th')].map(c => c.innerText)")


def _choose(page, label: str, option: str) -> None:
    page.locator(".v-select", has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_one_run_sliders_controls_charts_and_the_picker(page):
    from playwright.sync_api import expect

    # every slider has its value and its range beside it, equal to the slider's own
    sliders = page.locator(".sim-slider")
    assert sliders.count() >= 10
    for k in range(sliders.count()):
        slider = sliders.nth(k)
        thumb = slider.get_by_role("slider")
        value, low, high = (float(thumb.get_attribute(f"aria-value{a}"))
                            for a in ("now", "min", "max"))
        shown = slider.locator(".sim-slider-value").inner_text()
        span = slider.locator(".sim-slider-range").inner_text()
        assert float(shown) == pytest.approx(value, abs=0.006), (k, shown, value)
        span_low, span_high = (float(x) for x in span.split(" – "))
        assert (span_low, span_high) == (low, high), span
        assert slider.locator(".sim-slider-readout").is_visible()
    # the tracks do not shrink as labels grow: one width, whatever the label's length
    widths = page.locator(".sim-slider-track").evaluate_all(
        "ts => ts.map(t => t.getBoundingClientRect().width)")
    assert max(widths) - min(widths) < 2 and min(widths) > 100, widths
    # playback: explained, and Use Threads left out
    expect(page.get_by_text("Pause between days while ▶ plays")).to_be_visible()
    expect(page.get_by_text("Days each Step advances")).to_be_visible()
    expect(page.get_by_text("Use Threads")).to_have_count(0)

    # the picker offers scenarios, no observations file (load every option: Vuetify adds
    # them to the menu as it is scrolled)
    page.locator(".v-select", has_text="Scenario file").click()
    menu = page.locator(".menuable__content__active")
    menu.get_by_role("option").first.wait_for()
    options: list[str] = []
    while True:
        menu.evaluate("m => { m.scrollTop = m.scrollHeight; }")
        page.wait_for_timeout(200)
        seen = menu.get_by_role("option").all_inner_texts()
        if seen == options:
            break
        options = seen
    assert "scenarios/idlib_2020.yaml" in options and len(options) > 20, options
    assert not [o for o in options if "observations" in o or "priors" in o], options
    page.keyboard.press("Escape")

    # change Turkey's main interest weight (keyboard on the slider): its readout follows
    slider = page.get_by_role("slider", name="Turkey: weight of territory")
    readout = page.locator(".sim-slider", has=slider).locator(".sim-slider-value")
    start = readout.inner_text()
    slider.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    moved = float(slider.get_attribute("aria-valuenow"))
    assert f"{moved:.2f}" != start
    expect(readout).to_have_text(f"{moved:.2f}")  # the server's readout catches up
    _choose(page, "Patriot batteries", "granted to Turkey on day 0")
    page.get_by_role("button", name="Reset").click()
    changed = page.get_by_text("Changed from the scenario file")
    expect(changed).to_contain_text("actors.turkey.interests.territory=")
    expect(changed).to_contain_text("assets.patriot.deployed_at_start=turkey")

    # step: the day counter moves and the escalation chart is redrawn
    chart = page.locator(".vue-grid-item img").first
    chart.wait_for()
    before = chart.screenshot()
    for day in range(1, 6):
        page.get_by_role("button", name="Step").click()
        page.get_by_text(f"Day {day} of 120").wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    assert chart.screenshot() != before
    expect(page.locator("ul").last).to_contain_text("2020-02-2")
    # each chart fills its cell: the drawn image (scaled, aspect kept) covers most of it
    cells = page.locator(".vue-grid-item:has(img)").evaluate_all("""items => items.map(c => {
        const img = c.querySelector('img'), box = c.getBoundingClientRect();
        const s = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
        return (img.naturalWidth * s) * (img.naturalHeight * s) / (box.width * box.height);
    })""")
    assert len(cells) == 5 and min(cells) > 0.85, cells
    page.set_viewport_size(TALL)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "app-one-run.png"))
    page.set_viewport_size(VIEWPORT)

    # bad input is shown in the page and the server keeps serving
    settings = page.get_by_label("Other settings: PATH=VALUE; PATH=VALUE")
    settings.fill("actors.turkey.rationality=-5")
    settings.press("Enter")
    page.get_by_role("button", name="Reset").click()
    expect(page.get_by_text("Not applied").first).to_contain_text("actors.turkey.rationality")
    page.get_by_role("button", name="Step").click()
    page.get_by_text("Day 1 of 120").wait_for(timeout=30_000)
    settings.fill("")
    settings.press("Enter")
    page.get_by_role("button", name="Reset").click()
    expect(page.get_by_text("Not applied")).to_have_count(0)


def test_ensemble_probability_and_interval_in_separate_columns(page):
    page.get_by_role("tab", name="Ensemble").click()
    runs = page.get_by_label("Replications N")
    runs.fill("200")
    runs.press("Enter")
    page.get_by_role("button", name="Run ensemble").click()
    table = page.locator("table.ensemble-table")
    table.wait_for(timeout=180_000)
    assert _headers(table) == ["outcome", "probability", "95% interval"]
    rows = _rows(table)
    assert len(rows) >= 5
    for name, p, interval in rows:
        assert name and PERCENT.match(p) and PERCENT_INTERVAL.match(interval), (p, interval)
    # the columns are apart: in every row the interval's text starts well after the
    # probability's ends
    gaps = table.evaluate("""t => [...t.querySelectorAll('tbody tr')].map(r => {
        const text = c => { const g = document.createRange(); g.selectNodeContents(c);
                            return g.getBoundingClientRect(); };
        return text(r.cells[2]).left - text(r.cells[1]).right; })""")
    assert min(gaps) >= 10, gaps
    assert "200 runs" in table.inner_text()
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "app-ensemble.png"))


def test_saved_sweep_shows_prim_box_limits_beside_the_tradeoff(page, results):
    from playwright.sync_api import expect

    root, _outside = results
    page.get_by_role("tab", name="Saved results").click()
    page.locator("table.results-table").wait_for(timeout=120_000)
    _choose(page, "Results folder", str(root / "idlib-sweep"))
    limits = page.locator("table.prim-table")
    limits.wait_for(timeout=120_000)
    found = json.loads((root / "idlib-sweep" / "discovery.json").read_text())
    box = found["prim"]["box"]
    assert box, "the test sweep's discovery restricts no input"
    assert _headers(limits) == ["input", "box low", "box high", "swept low", "swept high"]
    assert [row[0] for row in _rows(limits)] == [b["parameter"] for b in box]
    for row, b in zip(_rows(limits), box, strict=True):
        assert float(row[1]) == pytest.approx(b["low"], rel=1e-3)
        assert float(row[2]) == pytest.approx(b["high"], rel=1e-3)
    measures = dict(_rows(page.locator("table.prim-measures")))
    chosen = found["prim"]["trajectory"][found["prim"]["chosen"]]
    for key in ("coverage", "density", "mass"):
        assert measures[key] == f"{100 * chosen[key]:.1f}%", (key, measures)
    # the trade-off plot stands beside the box, not under it
    tradeoff = page.locator(".prim-box + .sim-figure-box img")
    table_box, plot_box = limits.bounding_box(), tradeoff.bounding_box()
    assert plot_box["x"] > table_box["x"] + table_box["width"]
    assert plot_box["y"] < table_box["y"] + table_box["height"]
    assert "10 design points" in page.locator("table.results-table").inner_text()
    expect(page.locator(".prim-box")).to_contain_text("On its significant limits only")
    unrestricted = found["prim"]["unrestricted"]
    if unrestricted:
        expect(page.locator(".prim-box")).to_contain_text(
            "Left at their swept range: " + ", ".join(unrestricted))
    page.set_viewport_size(TALL)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "app-results-sweep.png"))
    page.set_viewport_size(VIEWPORT)


def _results_tab(page) -> None:
    """The "Saved results" tab, whichever test ran before (each test stands alone)."""
    page.get_by_role("tab", name="Saved results").click()
    page.locator(".v-select", has_text="Results folder").wait_for(timeout=120_000)


def test_saved_comparison_shows_each_difference_with_its_interval(page, results):
    root, _outside = results
    _results_tab(page)
    _choose(page, "Results folder", str(root / "patriots"))
    table = page.locator("table.results-table", has_text="patriots_day0")
    table.wait_for(timeout=120_000)
    headers = _headers(table)
    assert headers[4:] == ["difference from idlib_2020", "95% interval of the difference"]
    rows = _rows(table)
    saved = json.loads((root / "patriots" / "comparison.json").read_text())["rows"]
    assert len(rows) == len(saved)
    for row, r in zip(rows, saved, strict=True):
        assert PERCENT.match(row[2]) and PERCENT_INTERVAL.match(row[3]), row
        if "difference" in r:
            assert POINTS.match(row[4]) and POINTS_INTERVAL.match(row[5]), row
            low, high = (float(x.split()[0]) for x in row[5].split(" – "))
            assert low == pytest.approx(100 * r["difference_low"], abs=0.051)
            assert high == pytest.approx(100 * r["difference_high"], abs=0.051)
        else:
            assert row[4] == "(reference)" and row[5] == "", row
    page.set_viewport_size(TALL)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "app-results-compare.png"))
    page.set_viewport_size(VIEWPORT)


def test_results_root_is_honoured_and_an_outside_path_refused(page, results):
    from playwright.sync_api import expect

    root, outside = results
    _results_tab(page)
    page.locator(".v-select", has_text="Results folder").click()
    menu = page.locator(".menuable__content__active")
    menu.get_by_role("option").first.wait_for()
    offered = menu.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    assert str(root / "idlib-sweep") in offered and str(root / "patriots") in offered
    assert all(o.startswith(str(root)) for o in offered), offered
    assert not [o for o in offered if "escape" in o or "elsewhere" in o], offered
    _choose(page, "Results folder", str(root / "patriots"))  # whatever the last test opened
    expect(page.get_by_text(f"compare results in {root / 'patriots'}")).to_be_visible()
    typed = page.get_by_label("Or type a folder under the results root")
    refused = page.locator(".results-refused")
    for escaping in (str(outside), "escape", "../elsewhere"):
        typed.fill(escaping)
        typed.press("Enter")
        expect(refused).to_contain_text(f"{escaping} is outside the results root")
        assert refused.inner_text().strip().count("\n") == 0
        # the folder shown is still the comparison: nothing outside the root was opened
        expect(page.get_by_text(f"compare results in {root / 'patriots'}")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "app-results-refused.png"))
    typed.fill("idlib-sweep")  # a folder under the root, typed: opened
    typed.press("Enter")
    expect(page.get_by_text(f"sweep results in {root / 'idlib-sweep'}")).to_be_visible()
    expect(refused).to_have_count(0)
