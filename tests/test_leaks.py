"""Nothing a student receives (notebooks/ in both languages, the website in both editions, the installed
package and its message catalogue) holds a reference solution or a hidden check."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from attnbook.grading.notebook import SOLUTION_REGION, read_template
from conftest import ASSIGNMENTS, ROOT

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
MIN_LINE = 28  # shorter lines (`return out`, `import numpy as np`) are too generic to call a leak


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _significant_lines(source: str) -> set[str]:
    lines = set()
    for line in source.splitlines():
        line = _normal(line)
        if len(line) >= MIN_LINE and not line.startswith(("#", "import ", "from ", '"""')) and "BEGIN" not in line:
            lines.add(line)
    return lines


def solution_lines() -> dict[str, set[str]]:
    """Return, per assignment, the significant lines inside the solution regions of the reference."""
    found = {}
    for name in ASSIGNMENTS:
        cells = read_template(ROOT / "solutions" / name / f"{name}.ipynb")
        regions = "".join(m.group(0) for c in cells if c.is_answer for m in SOLUTION_REGION.finditer(c.source))
        found[name] = _significant_lines(regions)
    return found


def hidden_check_lines() -> set[str]:
    lines = set()
    for path in (ROOT / "autograde" / "checks").glob("*.py"):
        lines |= _significant_lines(path.read_text(encoding="utf-8"))
    return lines


def _ipynb_text(path: Path) -> str:
    """Return every cell's source and every text output of a notebook, joined."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in nb.get("cells", []):
        parts.append("".join(cell.get("source", "")))
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def student_texts(site: Path | None) -> dict[str, str]:
    """Return the normalised text of every file a student receives, by path."""
    package = ROOT / "src" / "attnbook"
    files = list((ROOT / "notebooks").rglob("*.ipynb")) + list(package.rglob("*.py")) + list(package.rglob("*.po"))
    if site:
        files += [p for p in site.rglob("*") if p.suffix in {".html", ".ipynb", ".md", ".txt", ".js"}
                  and "mathjax" not in p.parts]
    texts = {}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            text = html.unescape(re.sub(r"<[^>]+>", "", text))
        elif path.suffix == ".ipynb":
            text = _ipynb_text(path)
        texts[str(path.relative_to(ROOT))] = _normal(text)
    return texts


def _leaks(texts: dict[str, str]) -> list[str]:
    found = []
    for path, text in texts.items():
        if not path.startswith("src/"):  # the grader engine names the markers in order to find them
            found += [f"{path}: marker {m!r}" for m in MARKERS if m in text]
        for name, lines in solution_lines().items():
            found += [f"{path}: solution line of {name}: {line}" for line in lines if line in text]
        found += [f"{path}: hidden-check line: {line}" for line in hidden_check_lines() if line in text]
    return found


def test_solution_lines_are_found_in_the_solutions_themselves():
    texts = {name: _normal(_ipynb_text(ROOT / "solutions" / name / f"{name}.ipynb")) for name in ASSIGNMENTS}
    for name, lines in solution_lines().items():
        assert lines, f"{name}: no solution lines extracted: the leak test would be blind"
        assert all(line in texts[name] for line in lines)


def test_notebooks_and_package_hold_no_solution_or_hidden_check():
    leaks = _leaks(student_texts(None))
    assert not leaks, "\n".join(leaks[:20])


def test_built_site_holds_no_solution_or_hidden_check(built_site):
    leaks = _leaks(student_texts(built_site))
    assert not leaks, "\n".join(leaks[:20])


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_notebook_answer_cells_are_stubs(name):
    for cell in read_template(ROOT / "notebooks" / name / f"{name}.ipynb"):
        if cell.is_answer:
            assert "raise NotImplementedError()" in cell.source, f"{name}/{cell.grade_id} is not a stub"


def test_instructor_edition_holds_every_solution(instructor_site):
    texts = {}
    for name in ASSIGNMENTS:
        page = instructor_site / "notebooks" / name / f"{name}.html"
        texts[name] = _normal(html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))))
    missing = [f"{name}: {line}" for name, lines in solution_lines().items() for line in lines if line not in texts[name]]
    assert not missing, "\n".join(missing[:20])
