"""Read notebooks defensively: the instructor's template and the answer cells of a submission."""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION.*?^[ \t]*### END SOLUTION[^\n]*\n?", re.S | re.M)


@dataclass(frozen=True)
class TemplateCell:
    """A code cell of the instructor's source notebook."""

    grade_id: str
    source: str
    is_answer: bool
    is_test: bool
    points: float


@dataclass
class Submission:
    """The answer-cell sources of one submitted notebook, and every problem found reading it."""

    answers: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    return src if isinstance(src, str) else ""


def _nbgrader_meta(cell: dict) -> dict:
    meta = cell.get("metadata")
    nb = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nb if isinstance(nb, dict) else {}


def read_template(path: Path) -> list[TemplateCell]:
    """Return the code cells of an instructor's source notebook, in order, with their nbgrader roles."""
    return parse_template(Path(path).read_text(encoding="utf-8"))


def parse_template(text: str) -> list[TemplateCell]:
    """Return the code cells of a source notebook's JSON text, in order, with their nbgrader roles."""
    nb = json.loads(text)
    cells = []
    for i, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code":
            continue
        meta = _nbgrader_meta(cell)
        cells.append(TemplateCell(
            grade_id=str(meta.get("grade_id", f"cell-{i}")),
            source=_source(cell),
            is_answer=bool(meta.get("solution")),
            is_test=bool(meta.get("grade")) and not meta.get("solution"),
            points=float(meta.get("points", 0) or 0),
        ))
    return cells


def read_submission(path: Path, template: list[TemplateCell]) -> Submission:
    """Return the answer cells of a submitted notebook, matched to the template by grade_id.

    Never raises for bad input: unreadable, oversized, malformed or foreign files come back with
    no answers and a problem that names the file and what is wrong.
    """
    path = Path(path)
    sub = Submission()
    try:
        info = os.lstat(path)
    except OSError as exc:
        sub.problems.append(f"{path.name}: cannot be read ({exc.strerror})")
        return sub
    linked = os.path.realpath(path) != os.path.abspath(path)  # the file, or a folder above it, is a link
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode) or linked:
        sub.problems.append(f"{path.name}: is not a regular file (symbolic links are not graded)")
        return sub
    if info.st_size > MAX_NOTEBOOK_BYTES:
        sub.problems.append(f"{path.name}: is {info.st_size / 2**20:.0f} MiB, over the "
                            f"{MAX_NOTEBOOK_BYTES // 2**20} MiB limit for a notebook")
        return sub
    try:
        nb = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        sub.problems.append(f"{path.name}: is not text (not UTF-8), so it is not a notebook")
        return sub
    except RecursionError:
        sub.problems.append(f"{path.name}: JSON is nested too deeply to be a notebook")
        return sub
    except json.JSONDecodeError as exc:
        sub.problems.append(f"{path.name}: is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
        return sub
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        version = nb.get("nbformat") if isinstance(nb, dict) else None
        hint = f" (nbformat {version}; save it with JupyterLab as nbformat 4)" if version else ""
        sub.problems.append(f"{path.name}: has no list of cells, so it is not a version-4 notebook{hint}")
        return sub
    _collect_answers(nb["cells"], template, sub)
    return sub


def _collect_answers(cells: list, template: list[TemplateCell], sub: Submission) -> None:
    wanted = {c.grade_id: c for c in template}
    seen_order = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        grade_id = _nbgrader_meta(cell).get("grade_id")
        if not isinstance(grade_id, str) or grade_id not in wanted:
            if _source(cell).strip():
                sub.problems.append("an extra code cell was ignored: only answer cells are graded")
            continue
        seen_order.append(grade_id)
        tmpl = wanted[grade_id]
        if not tmpl.is_answer:
            if _source(cell) != tmpl.source:
                sub.problems.append(f"cell {grade_id!r} is read-only and was edited: the original was used")
            continue
        if grade_id in sub.answers:
            sub.problems.append(f"answer cell {grade_id!r} appears twice: the first copy was graded")
            continue
        sub.answers[grade_id] = _source(cell)
    for tmpl in template:
        if tmpl.is_answer and tmpl.grade_id not in sub.answers:
            sub.problems.append(f"answer cell {tmpl.grade_id!r} is missing: it scores 0")
    expected_order = [c.grade_id for c in template if c.grade_id in seen_order]
    if len(set(seen_order)) == len(seen_order) and seen_order != expected_order:
        sub.problems.append("cells were reordered: they were run in the template's order")


def build_program(template: list[TemplateCell], answers: dict[str, str]) -> list[tuple[str, str]]:
    """Return (grade_id, source) of the cells to run: template cells with answers substituted, tests left out."""
    program = []
    for cell in template:
        if cell.is_test:
            continue
        program.append((cell.grade_id, answers.get(cell.grade_id, "") if cell.is_answer else cell.source))
    return program
