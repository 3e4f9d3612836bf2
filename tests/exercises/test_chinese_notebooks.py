"""The Chinese student notebooks: current, the English release's code cells byte for byte (same grade_ids,
stubs, tests and checksums), markdown from the catalogue, and hints in Chinese in a real Jupyter kernel."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.utils import compute_checksum

from attnbook.grading.spec import load_checks
from attnbook.translations import catalogues, notebooks
from conftest import ASSIGNMENTS, ROOT
from make_samples import submission

LANG = catalogues.LANGUAGE


def chinese(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / LANG / name / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_chinese_notebook_is_current(name):
    catalogue = catalogues.translations(catalogues.course_locales(ROOT) / "notebooks" / f"{name}.po")
    fresh = nbformat.writes(notebooks.translated(notebooks.released(ROOT, name), catalogue, LANG)) + "\n"
    committed = (ROOT / "notebooks" / LANG / name / f"{name}.ipynb").read_text(encoding="utf-8")
    assert fresh == committed, f"notebooks/{LANG}/{name} is stale: run `attnbook translations` or `attnbook release {name}`"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_chinese_notebook_keeps_every_code_cell_of_the_english_release(name):
    english, zh = notebooks.released(ROOT, name), chinese(name)
    assert zh.metadata.attnbook.language == LANG
    assert [(c.cell_type, c.get("id")) for c in zh.cells] == [(c.cell_type, c.get("id")) for c in english.cells]
    for en_cell, zh_cell in zip(english.cells, zh.cells):
        if en_cell.cell_type != "code":
            continue
        if en_cell.metadata.get("nbgrader", {}).get("grade_id") == notebooks.SETUP_CELL:
            assert zh_cell.source == en_cell.source + "\n" + notebooks.LANGUAGE_LINES[LANG]
            assert {**zh_cell.metadata.nbgrader, "checksum": None} == {**en_cell.metadata.nbgrader, "checksum": None}
        else:
            assert zh_cell == en_cell, f"{name}: code cell {en_cell.get('id')} differs from the English release"
        if "nbgrader" in zh_cell.metadata:
            assert zh_cell.metadata.nbgrader.checksum == compute_checksum(zh_cell)


def test_chinese_notebook_gives_chinese_hints_in_a_kernel():
    name = "ch01_bottleneck"
    mistake = next(m for ex in load_checks(ROOT / "autograde" / "checks", name) if ex.name == "rnn_encode"
                   for m in ex.mistakes if m.key == "no-bias")
    nb = nbformat.from_dict(submission(chinese(name), {"rnn_encode": mistake.source}))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = {c.metadata.nbgrader.grade_id: o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error" and "nbgrader" in c.metadata}
    assert errors["test_rnn_encode"].ename == "AssertionError"
    assert "在索引" in errors["test_rnn_encode"].evalue and "应为" in errors["test_rnn_encode"].evalue, errors["test_rnn_encode"].evalue
    assert {e.ename for gid, e in errors.items() if gid != "test_rnn_encode"} == {"NotImplementedError"}


def test_markdown_is_translated_unit_by_unit_and_keeps_math_and_list_markers():
    source = ("## 1. `f` (2 points)\n\nA paragraph\nover two lines:\n\n$$x = 1$$\n\n"
              "- **First** item,\n  continued.\n- Second item.")
    units = [message for *_, message in notebooks.markdown_units(source)]
    assert units == ["1. `f` (2 points)", "A paragraph over two lines:", "**First** item, continued.", "Second item."]
    translated = notebooks.translate_markdown(source, {"1. `f` (2 points)": "1. `f`（2 分）",
                                                       "**First** item, continued.": "**第一**项，续。"})
    assert translated == ("## 1. `f`（2 分）\n\nA paragraph\nover two lines:\n\n$$x = 1$$\n\n"
                          "- **第一**项，续。\n- Second item.")
    with pytest.raises(ValueError, match="table"):
        notebooks.markdown_units("| a | b |\n|---|---|\n| 1 | 2 |")
