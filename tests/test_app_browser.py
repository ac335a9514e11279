"""End to end: `sim app` served on loopback, driven in Debian's headless chromium by Playwright.

``scripts/test-setup.sh`` (run by ``make test``) installs chromium; Playwright cannot download
a browser on these machines, so it is pointed at /usr/bin/chromium. Screenshots are saved in
``outputs/test-artifacts/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import BASELINE, ROOT

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "outputs" / "test-artifacts"
# Without the background-networking flags chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """`sim app` on a free loopback port, in its own process group, stopped afterwards.

    Its "Saved results" page looks in a temporary folder holding a small saved sweep.
    """
    from sim import api

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    results = tmp_path / "outputs"
    api.sweep(BASELINE, {"actors.turkey.war_cost": (0.0, 0.1), "fighting.loss_rate": (0.05, 0.3)},
              points=10, reps=6, seed=1, workers=1, out=results / "idlib-sweep", progress=False)
    port = _free_port()
    log = (ARTIFACTS / "app-server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "app", str(BASELINE), "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "SIM_APP_RESULTS": str(results)})
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


def test_step_change_inputs_and_run_an_ensemble_in_chromium(server):
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run scripts/test-setup.sh (make test does)")
    from playwright.sync_api import expect, sync_playwright

    # Hang guards, not speed checks: on a loaded 2-core machine re-creating the model on Reset
    # takes longer than Playwright's 5 s default (the suite failed there with both cores busy).
    expect.set_options(timeout=60_000)

    url, process = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1150})
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.get_by_text("Day 0 of 120").wait_for(timeout=90_000)

        # change Turkey's main interest weight (keyboard on the slider) and an asset decision
        slider = page.locator(".v-input", has_text="Turkey: weight of territory").get_by_role(
            "slider")
        start_weight = float(slider.get_attribute("aria-valuenow"))
        slider.focus()
        for _ in range(20):
            page.keyboard.press("ArrowRight")
        assert float(slider.get_attribute("aria-valuenow")) > start_weight
        page.locator(".v-select", has_text="Patriot batteries").click()
        page.get_by_role("option", name="granted to Turkey on day 0").first.click()
        page.get_by_role("button", name="Reset").click()
        changed = page.get_by_text("Changed from the scenario file")
        expect(changed).to_contain_text("actors.turkey.interests.territory=")
        expect(changed).to_contain_text("assets.patriot.deployed_at_start=turkey")

        # step several times: the day counter moves and the escalation plot is redrawn
        chart = page.locator(".vue-grid-item img").first
        chart.wait_for()
        before = chart.screenshot()
        for day in range(1, 6):
            page.get_by_role("button", name="Step").click()
            page.get_by_text(f"Day {day} of 120").wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        assert chart.screenshot() != before
        expect(page.locator("ul").last).to_contain_text("2020-02-2")
        page.screenshot(path=str(ARTIFACTS / "app-stepped.png"))

        # bad input is shown in the page and the server keeps serving
        settings = page.get_by_label("Other settings: PATH=VALUE; PATH=VALUE")
        settings.fill("actors.turkey.rationality=-5")
        settings.press("Enter")
        page.get_by_role("button", name="Reset").click()
        expect(page.get_by_text("Not applied").first).to_contain_text(
            "actors.turkey.rationality")
        page.get_by_role("button", name="Step").click()
        page.get_by_text("Day 1 of 120").wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "app-bad-input.png"))
        settings.fill("")
        settings.press("Enter")
        page.get_by_role("button", name="Reset").click()
        expect(page.get_by_text("Not applied")).to_have_count(0)

        # the ensemble tab runs 500 replications in the background and shows probabilities
        expect(page.get_by_role("tab", name="One run")).to_be_visible()
        page.get_by_role("tab", name="Ensemble").click()
        page.get_by_role("button", name="Run ensemble").click()
        table = page.locator("table.ensemble-table")
        table.wait_for(timeout=180_000)
        expect(table).to_contain_text("500 runs")
        expect(table).to_contain_text("%")
        page.screenshot(path=str(ARTIFACTS / "app-ensemble.png"), full_page=True)

        # the saved results page opens the saved sweep: its outcome table and figures
        page.get_by_role("tab", name="Saved results").click()
        table = page.locator("table.results-table")
        table.wait_for(timeout=120_000)
        expect(table).to_contain_text("10 design points")
        expect(table).to_contain_text("war_turkey_syria")
        expect(page.get_by_text("sweep results in")).to_be_visible()
        figures = page.locator(".results-view img")
        expect(figures.first).to_be_visible()
        assert figures.count() >= 2
        page.screenshot(path=str(ARTIFACTS / "app-saved-results.png"), full_page=True)
        browser.close()
    assert process.poll() is None, "the server stopped"
    assert not errors, errors
