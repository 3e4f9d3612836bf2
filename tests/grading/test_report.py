"""`attnbook report` as an instructor sees it, in headless Chromium: one legible histogram per assignment,
rounded scores, the exercise table with full cause wording, a student table that sorts and filters offline,
links to every feedback page, and no console error."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from attnbook.cli import main as cli
from classroom import make_class

ASSIGNMENTS = ("ch04_three_stages", "ch05_focus")
STUDENTS = 14
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list]:
    run, out = tmp_path_factory.mktemp("run"), tmp_path_factory.mktemp("report")
    results = make_class(run, ASSIGNMENTS, STUDENTS)
    assert cli(["report", str(run), "--out", str(out)]) == 0
    return out, results


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)>.*?</\1>", "", html, flags=re.S)))


def test_report_page_has_one_histogram_per_assignment_rounded_scores_and_full_cause_wording(report):
    out, results = report
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(ASSIGNMENTS)
    text = _text(html)
    assert not re.search(r"\d\.\d{3,}", text), re.findall(r"\S*\d\.\d{3,}\S*", text)[:5]
    causes = {c.message for r in results for e in r.exercises for c in e.causes}
    shown = [c for c in causes if c in " ".join(text.split())]
    assert shown and max(map(len, shown)) > 80, "no named cause is shown in its full wording"
    exercises = {(r.assignment, e.name) for r in results for e in r.exercises}
    assert html.count("<code>") >= len(exercises)


def test_every_feedback_link_of_the_report_opens_a_page(report):
    out, results = report
    links = re.findall(r'href="(feedback/[^"]+)"', (out / "index.html").read_text())
    assert len(links) == len(results)
    assert all((out / unescape(link)).is_file() for link in links)


def test_report_in_chromium_loads_every_image_sorts_and_filters_without_console_errors(report, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    out, results = report
    errors = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
        page.goto((out / "index.html").as_uri())
        images = page.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth > 300)")
        assert images and all(images)

        def column(i: int) -> list[str]:
            return page.eval_on_selector_all(
                "#students tbody tr:not([hidden])", f"rows => rows.map(r => r.cells[{i}].dataset.sort ?? r.cells[{i}].textContent)")

        total = len(ASSIGNMENTS) + 1
        page.click(f"#students thead th:nth-child({total + 1})")
        ascending = [float(v) for v in column(total)]
        assert ascending == sorted(ascending) and len(ascending) == STUDENTS
        page.click(f"#students thead th:nth-child({total + 1})")
        assert [float(v) for v in column(total)] == sorted(ascending, reverse=True)
        page.click("#students thead th:nth-child(1)")
        assert column(0) == sorted(column(0))
        page.fill("#filter", "s00")
        assert column(0) == [f"s00{k}" for k in range(10)] and page.text_content("#shown") == "10"
        page.fill("#filter", "")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert not errors
