"""The HTML report in headless Chromium: no console errors, no network, charts drawn, no personal data.

Runs on two reports: the tiny fake workbook (quick: it checks the templates) and the real
workbook on the embedded sample (slow). Uses the system Chromium; never ``playwright install``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import CHROMIUM, make_fake_project, run_cli, sample_customer_ids

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/index.png")


@dataclass
class Report:
    """A finished run folder, the stage page to check, and ids that must never appear."""

    run_dir: Path
    stage_page: str
    customer_ids: list[str]


@dataclass
class PageVisit:
    """What happened while a page loaded."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def _fake_report(root: Path) -> Report:
    project = make_fake_project(root / "project")
    result = run_cli(project.args())
    assert result.code == 0, result.stderr
    return Report(
        project.run_dir, "02_kpis.html", ["CUST-SECRET-001", "CUST-SECRET-002", "CUST-SECRET-003"]
    )


def _sample_report(sample_run: tuple[subprocess.CompletedProcess[str], Path]) -> Report:
    result, outputs = sample_run
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return Report(outputs / "sample", "02_kpis.html", sample_customer_ids())


@pytest.fixture(
    scope="module",
    params=["fake", pytest.param("sample", marks=pytest.mark.slow)],
)
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Report:
    if request.param == "fake":
        return _fake_report(tmp_path_factory.mktemp("browser-fake"))
    return _sample_report(request.getfixturevalue("sample_run"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} not found: install it with `apt-get install -y chromium`", pytrace=False
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser: Any, path: Path) -> tuple[Any, PageVisit]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    visit = PageVisit()
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on(
        "console",
        lambda message: message.type == "error" and visit.console_errors.append(message.text),
    )
    page.on("pageerror", lambda error: visit.console_errors.append(str(error)))
    page.goto(path.as_uri(), wait_until="load")
    return page, visit


def _foreign_requests(visit: PageVisit, own_url: str) -> list[str]:
    return [url for url in visit.requests if url != own_url and not re.match(r"^(data|file):", url)]


def test_index_page(browser: Any, report: Report) -> None:
    index = report.run_dir / "index.html"
    page, visit = _open(browser, index)
    try:
        assert visit.console_errors == []
        assert _foreign_requests(visit, index.as_uri()) == []
        assert all(url.startswith(("file:", "data:")) for url in visit.requests)
        assert page.title().startswith("Retention report")
        tiles = page.locator(".wb-tile")
        assert tiles.count() >= 1
        assert tiles.first.is_visible()
        assert page.locator(".wb-tile-value").first.inner_text().strip()
        assert page.locator("#data-quality").is_visible()
        assert page.locator(".wb-card").count() >= 1
        body = page.inner_text("body")
        assert not [customer for customer in report.customer_ids if customer in body]
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        page.close()


def test_stage_page(browser: Any, report: Report) -> None:
    stage = report.run_dir / "html" / report.stage_page
    page, visit = _open(browser, stage)
    try:
        assert visit.console_errors == []
        assert _foreign_requests(visit, stage.as_uri()) == []
        widths = page.eval_on_selector_all(
            "img", "images => images.map(image => image.naturalWidth)"
        )
        assert widths and all(width > 0 for width in widths), f"charts not rendered: {widths}"
        assert page.locator("a[href='../index.html']").is_visible()
        body = page.inner_text("body")
        assert not [customer for customer in report.customer_ids if customer in body]
        page.click("a[href='../index.html']")
        assert page.url.endswith("/index.html")
    finally:
        page.close()


PHONE = {"width": 390, "height": 844}  # the narrowest common phone screen, in CSS pixels


def _overflow(page: Any) -> int:
    """How far the page is wider than the screen (0: no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_index_page_at_phone_width(browser: Any, report: Report) -> None:
    """At 390 px the front page needs no sideways scrolling; tiles, their trend lines and the
    "what changed since the last report" block are on screen and inside its width."""
    index = report.run_dir / "index.html"
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(index.as_uri(), wait_until="load")
        assert _overflow(page) == 0
        tile = page.locator(".wb-tile").first
        assert tile.is_visible()
        box = tile.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        since = page.locator("#since-last, #since-last-missing").first
        assert since.is_visible()
        sparks = page.locator(".wb-spark")
        for i in range(sparks.count()):
            box = sparks.nth(i).bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        page.screenshot(path=str(SCREENSHOT.with_name("index-390.png")), full_page=True)
    finally:
        page.close()


@pytest.mark.slow
def test_the_sample_front_page_shows_what_changed(browser: Any, sample_run: Any) -> None:
    """The sample's second report (tests/conftest.py: sample_run): trend lines in the tiles,
    why retention moved, what changed since the last report, satisfaction and acquisition cost;
    each stage page opens on its table of contents, and none needs sideways scrolling at 390 px."""
    report = _sample_report(sample_run)
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto((report.run_dir / "index.html").as_uri(), wait_until="load")
        assert page.locator(".wb-tile .wb-spark").count() >= 4
        assert page.locator(".wb-tile .wb-spark").first.is_visible()
        assert page.locator("#kpi-why").is_visible()
        assert page.locator("#kpi-why strong").count() >= 1  # markdown bold rendered, not "**"
        assert "**" not in page.inner_text("#kpi-why")
        assert page.locator("#since-last li").count() == 7
        assert page.locator("#satisfaction-cost .wb-tile").count() == 3
        for stage in sorted((report.run_dir / "html").glob("0*.html")):
            page.goto(stage.as_uri(), wait_until="load")
            toc = page.locator("nav.wb-toc")
            assert toc.is_visible(), stage.name
            assert toc.locator("a").count() >= 3, stage.name
            assert _overflow(page) == 0, stage.name
    finally:
        page.close()
