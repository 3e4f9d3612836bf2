"""The Chinese edition's catalogues: current with the English sources, complete (except the pages listed in
locales/zh_CN/in_translation.txt, reported as skipped), markup and numbers kept, one term base."""

from __future__ import annotations

from pathlib import Path

import pytest

from attnbook.translations import catalogues, terms
from attnbook.translations.update import problems, templates
from conftest import ASSIGNMENTS, ROOT

IN_TRANSLATION = catalogues.in_translation(ROOT)
TERMS = terms.load(ROOT)


def _msgids(path: Path) -> set[str]:
    return {m.id for m in catalogues.read(path) if m.id}


def test_catalogues_are_current_with_the_english_sources(built_site, tmp_path):
    book, package = templates(ROOT, ASSIGNMENTS, tmp_path / "templates")
    stale = []
    for folder, target in ((book, catalogues.course_locales(ROOT)), (package, catalogues.package_catalogue(ROOT).parent)):
        wanted = {pot.relative_to(folder).with_suffix(".po"): pot for pot in folder.rglob("*.pot")}
        stale += [f"{target / po}: no catalogue" for po in wanted if not (target / po).is_file()]
        stale += [f"{po}: its page is gone" for po in target.rglob("*.po") if po.relative_to(target) not in wanted]
        for po, pot in wanted.items():
            if (target / po).is_file() and (missing := _msgids(pot) - _msgids(target / po)):
                stale.append(f"{target / po}: {len(missing)} English messages missing, e.g. {sorted(missing)[0][:80]!r}")
    assert not stale, "run `make translations` (or `attnbook translations`):\n" + "\n".join(stale)


def test_exercise_pages_have_no_sphinx_catalogue():
    """The Chinese exercise pages are generated Chinese notebooks: a Sphinx catalogue for an .ipynb page
    would make MyST-NB parse translated strings of a notebook (its issue 587)."""
    folder = catalogues.course_locales(ROOT) / "notebooks"
    assert not [p for p in folder.rglob("*.po") if p.parent != folder]


STATUS = catalogues.page_status(ROOT)


@pytest.mark.parametrize("page", sorted(STATUS))
def test_every_entry_is_translated(page):
    status = STATUS[page]
    left = f"{len(status.untranslated)} of {status.total} entries untranslated, {len(status.fuzzy)} fuzzy"
    if page in IN_TRANSLATION:
        assert not status.finished, f"{page} is finished: remove it from locales/zh_CN/in_translation.txt"
        pytest.skip(f"{page} is in translation (locales/zh_CN/in_translation.txt): {left}")
    sample = (status.untranslated + status.fuzzy)[:3]
    assert status.finished, f"{page}: {left}, e.g. {sample}"


def test_the_in_translation_list_names_real_pages():
    assert set(IN_TRANSLATION) <= set(STATUS), set(IN_TRANSLATION) - set(STATUS)
    assert catalogues.PACKAGE_PAGE not in IN_TRANSLATION


def test_translations_keep_markup_and_numbers_and_use_the_term_base():
    found = problems(ROOT)
    assert not found, "\n".join(found)


def test_term_base_holds_every_glossary_term():
    english = {form.lower() for term in TERMS for form in term.english}
    chinese = {rendering for term in TERMS for rendering in term.renderings}
    missing = [f"English {e!r}" for entry, _ in terms.glossary_terms(ROOT) for e in entry if e.lower() not in english]
    missing += [f"Chinese {c!r}" for _, entry in terms.glossary_terms(ROOT) for c in entry if c not in chinese]
    assert len(terms.glossary_terms(ROOT)) >= 40
    assert not missing, f"book/glossary.md terms missing from {terms.path(ROOT)}: {missing}"


def test_term_base_keeps_the_source_notes_own_terms():
    notes = [folder / "shared" / "source_note_zh.txt" for folder in (ROOT, *ROOT.parents)]
    note = next((path for path in notes if path.is_file()), None)
    if note is None:
        pytest.skip("the Chinese source note is not available here")
    text = note.read_text(encoding="utf-8")
    wrong = [t.chinese for t in TERMS if t.source == "note" and not any(r in text for r in t.renderings)]
    assert not wrong, f"terms marked as the note's own that the note does not use: {wrong}"
    for term in ("分心模型", "中间语义向量", "语义编码", "单词对齐", "缩放因子", "选择性加权"):
        assert any(term in t.renderings for t in TERMS), term


def test_term_check_flags_a_missing_term_but_not_code_or_longer_terms():
    def flagged(msgid, msgstr):
        return [t.chinese for t in terms.missing_terms(msgid, msgstr, TERMS)]

    assert flagged("The attention weights of the keys.", "各个键的注意力权重。") == []
    assert flagged("The attention weights of the keys.", "各个键的注意权重。") == ["注意力权重"]
    assert flagged("scaled dot-product attention", "点积注意力") == ["缩放点积注意力"]
    assert flagged("long-range dependencies", "长距离依赖") == []
    assert flagged("Queries and keys", "Q 与 K") == ["查询", "键"]
    assert flagged("`causal_mask(3)` and weights[0]", "`causal_mask(3)` 与 weights[0]") == []  # code, not prose
    assert flagged("why attention focuses", "注意力为什么会聚焦") == []  # a verb here, not the term
    assert flagged("Chapter {ref}`mask`", "参见 {ref}`mask`") == []  # a reference target is not prose


def test_markup_check_catches_what_a_translation_must_not_change():
    assert catalogues.markup_problems("It is {glue:text}`e1_short` ({numref}`fig-e1`), $c = h_T$, `np.exp`, 16.",
                                      "它是 {glue:text}`e1_short`（{numref}`图 %s <fig-e1>`），$c = h_T$，`np.exp`，16。") == []
    assert catalogues.markup_problems("see {cite}`vaswani2017attention`", "见文献") == \
        ["missing '{cite}vaswani2017attention'"]
    assert catalogues.markup_problems("$c = h_T$ at length 16", "$c=h_T$，长度为十六") == \
        ["missing '$c = h_T$'", "added '$c=h_T$'", "dropped the number 16"]
    assert catalogues.markup_problems("{what} has shape {got}", "{what} 的形状是 {gotten}") == \
        ["missing '{got}'", "added '{gotten}'"]


def test_display_equations_are_never_translated(tmp_path):
    """Sphinx would put a translated display equation into a reST literal block, which MyST renders as
    `\\[::\\]`: such entries keep their English (LaTeX) text, whatever a translator wrote."""
    from babel.messages.catalog import Catalog

    equation = "\nE = mc^2 \\quad \\text{energy}\n"
    template = Catalog(locale="zh_CN")
    template.add(equation)
    translated = Catalog(locale="zh_CN")
    translated.add(equation, "\nE = mc^2 \\quad \\text{能量}\n")
    path = tmp_path / "page.po"
    catalogues.dump_po(str(path), translated)
    catalogues.merge(template, path)
    assert catalogues.is_display_math(equation) and not catalogues.is_display_math("A paragraph.")
    assert catalogues.read(path).get(equation).string == equation


def test_messages_without_prose_need_no_translation():
    for text in ("$x_t$", "$d_h$; $T \\times d_h$", "acc[2]", "greedy_decode(counting_step, ...)", "{message} {hint}"):
        assert not catalogues.has_words(text), text
    for text in ("symbol", "self-attention;", "BERT", "H[0] (the first state h_1)", "{what} contains NaN."):
        assert catalogues.has_words(text), text


def test_search_terms_are_term_base_terms_that_search_can_index():
    rows = [line.split("\t") for line in (ROOT / "locales" / "zh_CN" / "search_terms.tsv").read_text("utf-8").splitlines()
            if line and not line.startswith(("#", "page\t"))]
    renderings = {r for t in TERMS for r in t.renderings}
    for page, term in rows:
        assert page in STATUS, f"search_terms.tsv: unknown page {page}"
        assert term in renderings and len(term) >= 2, f"{page}: {term!r} is not a term-base term of 2+ characters"
