"""The Chinese edition (`_build/html/zh_CN`) as a reader sees it, beside the English one.

The page-by-page tests of test_site.py (offline loading, console errors, math, images, alt texts, links,
headings) and the leak test run on both editions: they walk every page under `_build/html`. This file adds
what is particular to the translation. Pages listed in locales/zh_CN/in_translation.txt are reported as
skipped by the translation checks below.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from urllib.parse import urljoin

import nbformat
import pytest
import yaml

from attnbook.translations import catalogues
from conftest import ROOT
from test_site import Visit, browser, server, site_pages  # noqa: F401  (fixtures shared with the English tests)
from test_leaks import student_texts

ZH = catalogues.LANGUAGE
IN_TRANSLATION = set(catalogues.in_translation(ROOT))
SWITCH = re.compile(r'<a href="([^"]+)" class="btn btn-sm language-switch" hreflang="([^"]+)"')
MIN_LATIN = 12  # a block with this many Latin letters and no Han character is an English paragraph


def toc_pages() -> list[str]:
    """Return the docnames of the table of contents (the same in both editions)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            pages += [chapter["file"]] + [s["file"] for s in chapter.get("sections", [])]
    return pages


def search_terms() -> list[tuple[str, str]]:
    lines = (ROOT / "locales" / ZH / "search_terms.tsv").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines if line and not line.startswith(("#", "page\t"))]


def skip_if_in_translation(docname: str) -> None:
    page = catalogues.page_of(docname)
    if page in IN_TRANSLATION:
        pytest.skip(f"{page} is in translation (locales/zh_CN/in_translation.txt)")


def test_both_editions_have_the_same_pages_and_the_page_tests_see_both(built_site):
    pages = site_pages(built_site)
    english = {p for p in pages if not p.startswith(f"{ZH}/")}
    chinese = {p.removeprefix(f"{ZH}/") for p in pages if p.startswith(f"{ZH}/")}
    assert english == chinese and f"book/ch01_bottleneck.html" in chinese
    assert any(path.startswith(f"_build/html/{ZH}/") for path in student_texts(built_site)), "the leak test must see it"


def test_pages_declare_a_valid_language_tag(built_site):
    for path in site_pages(built_site):
        tag = re.search(r'<html lang="([^"]+)"', (built_site / path).read_text(encoding="utf-8")).group(1)
        assert tag == ("zh-CN" if path.startswith(f"{ZH}/") else "en"), f"{path}: lang={tag!r}"


def test_every_page_switches_to_the_same_page_in_the_other_edition_and_back(built_site):
    problems = []
    for path in site_pages(built_site):
        links = SWITCH.findall((built_site / path).read_text(encoding="utf-8"))
        other = path.removeprefix(f"{ZH}/") if path.startswith(f"{ZH}/") else f"{ZH}/{path}"
        expected_lang = "en" if path.startswith(f"{ZH}/") else "zh-CN"
        if len(links) != 1:
            problems.append(f"{path}: {len(links)} language switches")
            continue
        href, lang = links[0]
        target = Path(urljoin(f"/{path}", href).lstrip("/"))
        if str(target) != other or lang != expected_lang:
            problems.append(f"{path}: switch leads to {target} ({lang}), not {other}")
        elif not any(Path(urljoin(f"/{other}", h).lstrip("/")) == Path(path)
                     for h, _ in SWITCH.findall((built_site / other).read_text(encoding="utf-8"))):
            problems.append(f"{other}: switch does not lead back to {path}")
    assert not problems, "\n".join(problems)


def test_language_switch_works_in_the_browser(server, browser):
    visit = Visit(browser, server, "book/glossary.html")
    visit.page.click("a.language-switch")
    visit.page.wait_for_url(f"**/{ZH}/book/glossary.html")
    assert "术语表" in visit.page.inner_text("article h1")
    visit.page.click("a.language-switch")
    visit.page.wait_for_url("**/book/glossary.html")
    assert visit.page.url.endswith("/book/glossary.html") and f"/{ZH}/" not in visit.page.url
    assert not visit.console and not visit.blocked
    visit.page.close()


def test_chinese_home_page_redirects_to_the_chinese_introduction(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/{ZH}/index.html")
    page.wait_for_url(f"**/{ZH}/book/intro.html")
    assert "注意力机制详解" in page.title()
    page.close()


@pytest.mark.parametrize("docname", toc_pages())
def test_no_english_paragraph_is_left_untranslated(docname, server, browser):
    skip_if_in_translation(docname)
    visit = Visit(browser, server, f"{ZH}/{docname}.html")
    blocks = visit.page.evaluate("""() => {
        const article = document.querySelector('article').cloneNode(true);
        const skipped = 'pre, code, script, style, .math, mjx-container, .citation, .toctree-wrapper, '
            + 'a.reference.internal, .headerlink, .cell_output';
        article.querySelectorAll(skipped).forEach(e => e.remove());
        const selector = 'p, li, dt, dd, th, td, h1, h2, h3, h4, h5, h6, figcaption, .admonition-title';
        return [...article.querySelectorAll(selector)].filter(e => !e.querySelector(selector))
            .map(e => e.textContent.replace(/\\s+/g, ' ').trim());
    }""")
    visit.page.close()
    han = sum(len(re.findall(r"[\u4e00-\u9fff]", b)) for b in blocks)
    latin = sum(len(re.findall(r"[A-Za-z]", b)) for b in blocks)
    english = [b for b in blocks if len(re.findall(r"[A-Za-z]", b)) >= MIN_LATIN and not re.search(r"[\u4e00-\u9fff]", b)]
    assert not english, f"{docname}: English left in the Chinese edition: {english[:5]}"
    assert han > latin, f"{docname}: {han} Han characters but {latin} Latin letters in the body text"


def test_glued_results_on_chinese_pages_carry_no_english_words(built_site):
    """Results glued from the executed (English) chapters are re-rendered from the `i18n.t` template that made
    them ("83 % ± 4 % (s.e., 3 seeds)" -> "83 % ± 4 %（标准误，3 个种子）"): none may bring English into a
    Chinese sentence. Units, nan, inf, CPU and GPU are not words (the Chinese text uses them too)."""
    allowed = {"ms", "nan", "inf", "MiB", "GiB", "KiB", "µs", "ns", "GPU", "CPU"}
    english = []
    for docname in toc_pages():
        if catalogues.page_of(docname) in IN_TRANSLATION or not docname.startswith("book/"):
            continue
        text = (built_site / ZH / f"{docname}.html").read_text(encoding="utf-8")
        for value in re.findall(r'<span class="pasted-text">(.*?)</span>', text, re.S):
            words = set(re.findall(r"[A-Za-z]{2,}", re.sub(r"<[^>]+>", "", value))) - allowed
            if words:
                english.append(f"{docname}: {value!r}")
    assert not english, "glued values with English words (wrap them in attnbook.i18n.t):\n" + "\n".join(english)


@pytest.mark.parametrize("page,term", search_terms())
def test_chinese_search_finds_a_term_on_each_page(page, term, server, browser):
    skip_if_in_translation(page)
    visit = Visit(browser, server, f"{ZH}/search.html?q={term}")
    visit.page.wait_for_selector("#search-results li", timeout=20000)
    found = visit.page.evaluate("[...document.querySelectorAll('#search-results li a')].map(a => a.href)")
    docname = page if page.startswith("book/") else f"{page}/{page.split('/')[-1]}"  # notebooks/x is notebooks/x/x
    assert any(f"/{ZH}/{docname}.html" in href for href in found), f"search for {term!r} does not find {page}: {found}"
    assert not visit.blocked
    visit.page.close()


def test_han_characters_render_with_a_cjk_font(server, browser):
    """Without a CJK font (Debian's fonts-noto-cjk) every Han character is the same empty box."""
    visit = Visit(browser, server, f"{ZH}/book/intro.html")
    glyphs = visit.page.evaluate("""() => {
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = 48;
        const g = canvas.getContext('2d');
        g.font = '40px ' + getComputedStyle(document.querySelector('article')).fontFamily;
        return ['注', '意', '力'].map(ch => { g.clearRect(0, 0, 48, 48); g.fillText(ch, 2, 40); return canvas.toDataURL(); });
    }""")
    visit.page.close()
    assert len(set(glyphs)) == 3, "Han characters render as identical boxes: install fonts-noto-cjk"


def test_pages_in_translation_say_so_and_translated_pages_do_not(built_site):
    for docname in toc_pages():
        html = (built_site / ZH / f"{docname}.html").read_text(encoding="utf-8")
        assert ("translation-pending" in html) == (catalogues.page_of(docname) in IN_TRANSLATION), docname


def test_chinese_exercise_pages_offer_the_chinese_notebook(built_site):
    for docname in toc_pages():
        if not docname.startswith("notebooks/"):
            continue
        html = (built_site / ZH / f"{docname}.html").read_text(encoding="utf-8")
        assert f"_sources/{docname}.ipynb" in html, f"{docname}: no notebook download"
        offered = nbformat.reads((built_site / ZH / "_sources" / f"{docname}.ipynb").read_text("utf-8"), as_version=4)
        assert offered.metadata.attnbook.language == ZH, f"{docname}: the Chinese page offers another notebook"
        chapter = f"book/{docname.split('/')[1]}.html"
        assert f"../{docname}.html" in (built_site / ZH / chapter).read_text(encoding="utf-8"), chapter


def test_chinese_build_reused_the_english_execution_of_every_chapter(built_site):
    """No chapter is executed twice: both editions show the outputs of the same execution record."""
    def executions(doctrees: Path) -> dict:
        with (doctrees / "environment.pickle").open("rb") as f:
            metadata = pickle.load(f).nb_metadata
        return {doc: json.dumps(data["exec_data"], sort_keys=True) for doc, data in metadata.items() if "exec_data" in data}

    english, chinese = executions(ROOT / "_build" / ".doctrees"), executions(ROOT / "_build" / ZH / "_build" / ".doctrees")
    chapters = [doc for doc in toc_pages() if doc.startswith("book/ch")]
    assert chapters and all(doc in english for doc in chapters)
    assert {doc: chinese.get(doc) for doc in chapters} == {doc: english[doc] for doc in chapters}
