"""The built website, as a reader sees it: every page in headless Chromium with the network cut off."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SKIP_DIRS = {"_static", "_sources", "_images", "mathjax", "_sphinx_design_static"}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(built_site: Path):
    handler = functools.partial(QuietHandler, directory=str(built_site))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Visit:
    """A page opened with every non-loopback request blocked, recording what went wrong."""

    def __init__(self, browser, base: str, path: str):
        self.page = browser.new_page()
        self.blocked, self.console, self.failed = [], [], []
        self.page.route("**/*", functools.partial(self._route, base))
        self.page.on("console", lambda m: m.type in ("error", "warning") and self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"uncaught: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        self.page.goto(f"{base}/{path}", wait_until="load")
        if self.page.evaluate("!!document.querySelector('script[src*=\"mathjax/\"]')"):
            self.page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
            self.page.evaluate("MathJax.startup.promise.then(() => true)")

    def _route(self, base: str, route) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()


def site_pages(site: Path) -> list[str]:
    """Return every HTML page of the site except assets and redirect stubs."""
    pages = [p for p in site.rglob("*.html") if not SKIP_DIRS & set(p.relative_to(site).parts)]
    return sorted(str(p.relative_to(site)) for p in pages if 'http-equiv="Refresh"' not in p.read_text("utf-8"))


def test_home_page_redirects_to_the_introduction(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/index.html")
    page.wait_for_url("**/book/intro.html")
    assert "Attention, explained" in page.title()
    page.close()


def test_every_page_loads_offline_with_math_images_and_no_console_errors(built_site, server, browser):
    problems = []
    pages = site_pages(built_site)
    assert any(p.startswith("book/ch01") for p in pages) and "book/glossary.html" in pages
    for path in pages:
        visit = Visit(browser, server, path)
        raw_math = visit.page.evaluate(
            "[...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).length")
        broken_images = visit.page.evaluate(
            "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        missing_alt = visit.page.evaluate(  # Sphinx uses the file name when a figure has no alt text
            "[...document.images].filter(i => !i.alt || /[.](png|svg|jpg)$/.test(i.alt)).map(i => i.src)")
        for kind, found in (("blocked non-loopback request", visit.blocked), ("console", visit.console),
                            ("failed request", visit.failed), ("image not loaded", broken_images),
                            ("image without alt text", missing_alt)):
            problems += [f"{path}: {kind}: {item}" for item in found]
        if raw_math:
            problems.append(f"{path}: {raw_math} equations not rendered by MathJax")
        visit.page.close()
    assert not problems, "\n".join(problems)


def test_chapter_equations_are_rendered(built_site, server, browser):
    visit = Visit(browser, server, "book/ch01_bottleneck.html")
    rendered = visit.page.evaluate("document.querySelectorAll('mjx-container').length")
    assert rendered >= 20, f"only {rendered} equations rendered on chapter 1"
    assert "\\tanh" not in visit.page.inner_text("article"), "raw TeX is visible in chapter 1"


def test_every_internal_link_resolves(built_site, server):
    missing = []
    ids_cache: dict[str, set[str]] = {}
    for path in site_pages(built_site):
        html = (built_site / path).read_text(encoding="utf-8")
        for href in set(re.findall(r'href="([^"]+)"', html)):
            if urlparse(href).scheme in ("http", "https", "mailto") or href.startswith("data:"):
                continue
            target, fragment = urldefrag(href)
            target = unquote(urlparse(target).path)
            target_path = (built_site / path).parent / target if target else built_site / path
            target_path = target_path.resolve()
            if not target_path.exists():
                missing.append(f"{path}: {href} (no file)")
                continue
            if fragment and target_path.suffix == ".html":
                ids = ids_cache.setdefault(str(target_path), set(re.findall(r'id="([^"]+)"', target_path.read_text("utf-8"))))
                if fragment not in ids:
                    missing.append(f"{path}: {href} (no anchor #{fragment})")
    assert not missing, "\n".join(sorted(missing)[:50])


def test_external_links_are_only_citations_and_launch_links(built_site):
    for path in site_pages(built_site):
        html = (built_site / path).read_text(encoding="utf-8")
        sources = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(https?://[^"]+)"', html)
        assert not sources, f"{path} loads resources from the network: {sources}"


SEARCH_TERMS = {"ch01_bottleneck": "bottleneck", "ch02_attention_seq2seq": "alignment", "ch03_qkv": "Nadaraya",
                "ch04_three_stages": "cosine", "ch05_focus": "entropy", "ch06_multi_head": "heads",
                "ch07_self_attention": "positional", "ch08_attention_vs_self": "BERT"}


def chapters(site: Path) -> list[str]:
    return sorted(p.stem for p in (site / "book").glob("ch0*.html"))


def test_search_finds_a_term_from_each_chapter(built_site, server, browser):
    for chapter in chapters(built_site):
        term = SEARCH_TERMS[chapter]
        visit = Visit(browser, server, f"search.html?q={term}")
        visit.page.wait_for_selector("#search-results li", timeout=20000)
        found = visit.page.evaluate("[...document.querySelectorAll('#search-results li a')].map(a => a.href)")
        assert any(chapter in href for href in found), f"search for {term!r} does not find {chapter}: {found}"
        assert not visit.blocked
        visit.page.close()


def test_chapter_pages_have_objectives_summary_questions_and_exercises(built_site):
    for chapter in chapters(built_site):
        text = (built_site / "book" / f"{chapter}.html").read_text(encoding="utf-8")
        article = text[text.index("<article"):]
        first_section = article[:article.find("<h2")]
        assert "Learning objectives" in first_section, f"{chapter}: no learning objectives at the top"
        assert "&lt;Figure size" not in text, f"{chapter}: a figure was rendered as text, not as an image"
        assert text.count("<img") >= 2, f"{chapter}: fewer than two figures"
        for needle in ("Summary", "Check your understanding", "toggle", f"notebooks/{chapter}/{chapter}.html",
                       'class="left-prev"', 'class="right-next"', ".md"):
            assert needle in text, f"{chapter}: missing {needle!r}"


def test_glossary_pairs_english_with_the_source_notes_chinese_terms(built_site):
    text = (built_site / "book" / "glossary.html").read_text(encoding="utf-8")
    for term in ("分心模型", "查询", "键", "值", "缩放点积注意力", "加性注意力", "多头注意力", "自注意力", "编码器"):
        assert term in text, f"glossary lacks {term}"
    assert text.count('<dt id="term-') >= 20


def test_bibliography_lists_the_cited_papers(built_site):
    text = (built_site / "book" / "bibliography.html").read_text(encoding="utf-8")
    for title in ("neural machine translation by jointly learning", "attention is all you need", "bert"):
        assert title in text.lower(), f"the bibliography lacks {title!r}"


def test_dark_mode_toggles(server, browser):
    visit = Visit(browser, server, "book/intro.html")
    background = "getComputedStyle(document.body).backgroundColor"
    light = visit.page.evaluate(background)
    assert visit.page.evaluate("document.documentElement.dataset.theme") == "light"
    for _ in range(3):  # the switch cycles light -> auto -> dark
        visit.page.click("button.theme-switch-button")
        if visit.page.evaluate("document.documentElement.dataset.theme") == "dark":
            break
    assert visit.page.evaluate("document.documentElement.dataset.theme") == "dark"
    visit.page.wait_for_function(f"{background} !== {light!r}")
    assert not visit.console


def test_pages_have_no_serious_accessibility_violations(built_site, server, browser, root):
    from attnbook.site.build import npm_package

    axe = (npm_package(root, "axe-core@4.10.3") / "axe.min.js").read_text(encoding="utf-8")
    problems = []
    for path in ["book/intro.html", "book/glossary.html", "book/bibliography.html", "zh_CN/book/intro.html",
                 "zh_CN/book/glossary.html"] + \
            [f"book/{c}.html" for c in chapters(built_site)] + [f"notebooks/{c}/{c}.html" for c in chapters(built_site)]:
        visit = Visit(browser, server, path)
        visit.page.add_script_tag(content=axe)
        violations = visit.page.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
            ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id + ': ' + v.help + ' (' +"
            " v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') + ')'))")
        problems += [f"{path}: {v}" for v in violations]
        visit.page.close()
    assert not problems, "\n".join(problems)


def test_exercise_page_offers_notebook_download(built_site):
    html = (built_site / "notebooks" / "ch01_bottleneck" / "ch01_bottleneck.html").read_text(encoding="utf-8")
    assert "ch01_bottleneck.ipynb" in html and "download" in html.lower()
    assert (built_site / "_sources" / "notebooks" / "ch01_bottleneck" / "ch01_bottleneck.ipynb").is_file()


def test_headings_start_at_h1_and_never_skip_a_level(built_site):
    for path in site_pages(built_site):
        html = (built_site / path).read_text(encoding="utf-8")
        if "<article" not in html:
            continue
        article = html[html.index("<article"):html.index("</article>")]
        levels = [int(level) for level in re.findall(r"<h([1-6])", article)]
        assert levels and levels[0] == 1, f"{path}: the page does not start with one h1"
        skips = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
        assert not skips, f"{path}: heading levels skip: {skips}"
