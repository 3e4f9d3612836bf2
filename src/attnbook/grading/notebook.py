"""Read notebooks defensively: the instructor's template and the answer cells of a submission.

A submission may be the student notebook of any language (`notebooks/<lang>/`): the same cells, except that
the read-only setup cell of a translated notebook ends with the line that switches its hints
(`i18n.setup_source`). Its language decides which read-only cells count as unedited and the language of
the feedback (see `notebook_language`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .. import i18n
from ..i18n import LANGUAGES, SETUP_CELL, t
from . import wire

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
    language: str = "en"  # of the feedback: the notebook's own, or the one the instructor asked for


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


def open_submission(root: Path, parts: tuple[str, ...]) -> tuple[bytes | None, str | None]:
    """Read `root/part/part/...` once, by descriptor: return (its bytes, None), or (None, a problem).

    Every component is opened relative to the folder before it without following symbolic links, the
    file non-blocking (a FIFO cannot hang the grader), and the checks are made on the open descriptor, so
    a file swapped during grading can change neither what is read nor what it is taken for.
    """
    name = parts[-1]
    fds: list[int] = []
    try:
        fds.append(os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        for folder in parts[:-1]:
            fds.append(os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fds[-1]))
        fds.append(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                           dir_fd=fds[-1]))
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return None, t("{name}: is not a regular file (symbolic links are not graded)", name=name)
        return None, t("{name}: cannot be read ({reason})", name=name, reason=exc.strerror)
    try:
        info = os.fstat(fds[-1])
        if not stat.S_ISREG(info.st_mode):
            return None, t("{name}: is not a regular file (symbolic links are not graded)", name=name)
        data = _read_at_most(fds[-1], MAX_NOTEBOOK_BYTES + 1)
        if len(data) > MAX_NOTEBOOK_BYTES:
            return None, t("{name}: is over the {limit} MiB limit for a notebook", name=name,
                           limit=MAX_NOTEBOOK_BYTES // 2**20)
        return data, None
    except OSError as exc:
        return None, t("{name}: cannot be read ({reason})", name=name, reason=exc.strerror)
    finally:
        for fd in fds:
            os.close(fd)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = os.read(fd, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_submission(path: Path, template: list[TemplateCell], language: str | None = None) -> Submission:
    """Return the answer cells of the notebook at `path` (read once, by descriptor; see open_submission)."""
    path = Path(os.path.abspath(path))
    with i18n.language(language or "en"):
        data, problem = open_submission(Path("/"), path.parts[1:])
    if problem is not None:
        return Submission(problems=[problem], language=language or "en")
    return parse_submission(data, path.name, template, language)


def read_only_source(cell: TemplateCell, lang: str) -> str:
    """Return the source of a read-only template cell as the student notebook in `lang` has it."""
    return i18n.setup_source(cell.source, lang) if cell.grade_id == SETUP_CELL else cell.source


def notebook_language(nb: dict, template: list[TemplateCell]) -> str:
    """Return the language of a parsed student notebook: the one whose setup cell it has, unedited (the cell
    that made its visible tests speak that language); else the one its metadata names
    (`metadata.attnbook.language`), if it is one we have; else English. Never raises."""
    setup = next((c for c in template if c.grade_id == SETUP_CELL and not c.is_answer), None)
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    found = next((_source(c) for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"
                  and _nbgrader_meta(c).get("grade_id") == SETUP_CELL), None)
    if setup is not None and found is not None:
        for lang in LANGUAGES:
            if found == read_only_source(setup, lang):
                return lang
    meta = nb.get("metadata")
    ours = meta.get("attnbook") if isinstance(meta, dict) else None
    claimed = ours.get("language") if isinstance(ours, dict) else None
    return claimed if isinstance(claimed, str) and claimed in LANGUAGES else "en"


def parse_submission(data: bytes, name: str, template: list[TemplateCell], language: str | None = None) -> Submission:
    """Return the answer cells of a submitted notebook's bytes, matched to the template by grade_id, with
    its problems in `language` (default: the notebook's own, see `notebook_language`).

    Never raises for bad input: malformed or foreign files come back with no answers and a problem that
    names the file and what is wrong.
    """
    sub = Submission(language=language or "en")
    with i18n.language(sub.language):
        nb = _notebook_json(data, name, sub)
    if nb is None:
        return sub
    own = notebook_language(nb, template)
    sub.language = language or own
    with i18n.language(sub.language):
        _collect_answers(nb["cells"], template, sub, own)
    return sub


def _notebook_json(data: bytes, name: str, sub: Submission) -> dict | None:
    """Return the notebook's JSON object, or None with the problem added to `sub`."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        sub.problems.append(t("{name}: is not text (not UTF-8), so it is not a notebook", name=name))
        return None
    except RecursionError:
        sub.problems.append(t("{name}: JSON is nested too deeply to be a notebook", name=name))
        return None
    except json.JSONDecodeError as exc:
        sub.problems.append(t("{name}: is not valid JSON (line {line}, column {column}: {reason})", name=name,
                              line=exc.lineno, column=exc.colno, reason=exc.msg))
        return None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        version = nb.get("nbformat") if isinstance(nb, dict) else None
        hint = t(" (nbformat {version}; save it with JupyterLab as nbformat 4)",
                 version=wire.message(version, 20)) if version else ""
        sub.problems.append(t("{name}: has no list of cells, so it is not a version-4 notebook", name=name) + hint)
        return None
    return nb


def _collect_answers(cells: list, template: list[TemplateCell], sub: Submission, lang: str) -> None:
    """Take the answer cells into `sub`, and note every difference from the student notebook in `lang`."""
    wanted = {c.grade_id: c for c in template}
    seen_order, extra = [], 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        grade_id = _nbgrader_meta(cell).get("grade_id")
        if not isinstance(grade_id, str) or grade_id not in wanted:
            extra += bool(_source(cell).strip())
            continue
        seen_order.append(grade_id)
        tmpl = wanted[grade_id]
        if not tmpl.is_answer:
            if _source(cell) != read_only_source(tmpl, lang):
                sub.problems.append(t("cell {cell!r} is read-only and was edited: the original was used",
                                      cell=grade_id))
            continue
        if grade_id in sub.answers:
            sub.problems.append(t("answer cell {cell!r} appears twice: the first copy was graded", cell=grade_id))
            continue
        sub.answers[grade_id] = _source(cell)
    if extra:
        sub.problems.append(t("{n} extra code cell(s) were ignored: only answer cells are graded", n=extra))
    for tmpl in template:
        if tmpl.is_answer and tmpl.grade_id not in sub.answers:
            sub.problems.append(t("answer cell {cell!r} is missing: it scores 0", cell=tmpl.grade_id))
    expected_order = [c.grade_id for c in template if c.grade_id in seen_order]
    if len(set(seen_order)) == len(seen_order) and seen_order != expected_order:
        sub.problems.append(t("cells were reordered: they were run in the template's order"))
    sub.problems = list(dict.fromkeys(sub.problems))


def build_program(template: list[TemplateCell], answers: dict[str, str]) -> list[tuple[str, str]]:
    """Return (grade_id, source) of the cells to run: template cells with answers substituted, tests left out."""
    program = []
    for cell in template:
        if cell.is_test:
            continue
        program.append((cell.grade_id, answers.get(cell.grade_id, "") if cell.is_answer else cell.source))
    return program
