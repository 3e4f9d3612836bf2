"""Run a notebook's visible tests in this process, with one answer cell replaced, and say how each ended.

The notebook's code cells run in order in one namespace (the given answers, the reference's for the other
answer cells), as in a student's kernel after "Run all". Each test cell ends one way: passed; failed with a
hint (an AssertionError raised by `attnbook.testing`); raised in the student's own code; crashed in the test
cell's own code (never acceptable); or stopped at a stub. For a hint, the outcome also holds what the
analyses named in it (the sentences of the last `describe` call) and the source of the failing check.
"""

from __future__ import annotations

import ast
import contextlib
import io
import traceback
from dataclasses import dataclass
from unittest import mock

import numpy as np

from attnbook import testing
from attnbook.grading.checks import Assignment

TESTING = "attnbook/testing.py"


@dataclass(frozen=True)
class VisibleOutcome:
    """How one visible test cell ended: its grade_id; how ("passed", "hint", "student", "test-crash",
    "stub"); the exception; for a hint, the sentences the analyses named, the source of the check that
    failed and the shape of the value it expected."""

    cell: str
    how: str
    error: str = ""
    named: tuple[str, ...] = ()
    statement: str = ""
    expected_shape: tuple = ()


def _cell_name(grade_id: str) -> str:
    return f"<visible cell {grade_id}>"


def _how(exc: BaseException, answer_cells: set[str]) -> str:
    if isinstance(exc, NotImplementedError):
        return "stub"
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, AssertionError) and frames and frames[-1].filename.endswith(TESTING):
        return "hint"
    cells = [f.filename for f in frames if f.filename.startswith("<visible cell ")]
    return "student" if cells and cells[-1] in {_cell_name(g) for g in answer_cells} else "test-crash"


def _statement(source: str, grade_id: str, exc: BaseException) -> str:
    """Return the source of the statement of the test cell in which `exc` was raised."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == _cell_name(grade_id)]
    if not lines:
        return ""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.For, ast.With, ast.If, ast.FunctionDef)) \
                and node.lineno <= lines[-1] <= node.end_lineno:
            return ast.get_source_segment(source, node) or ""
    return ""


def run_visible_tests(assignment: Assignment, answers: dict[str, str], only: str | None = None
                      ) -> list[VisibleOutcome]:
    """Run the notebook's code cells with `answers` substituted; return the outcome of every test cell
    (or only of the test cell named `only`)."""
    ns: dict = {"__name__": "__main__"}
    answer_cells = {c.grade_id for c in assignment.template if c.is_answer}
    described: list[tuple[tuple, list[str]]] = []

    def recording_describe(expected, actual, *args, **kwargs):
        found = describe(expected, actual, *args, **kwargs)
        described.append((np.shape(expected), found))
        return found

    describe = testing.describe
    outcomes = []
    with mock.patch.object(testing, "describe", recording_describe):
        for cell in assignment.template:
            source = answers.get(cell.grade_id, cell.source) if cell.is_answer else cell.source
            described.clear()
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(source, _cell_name(cell.grade_id), "exec"), ns)
            except Exception as exc:  # noqa: BLE001  (a wrong answer may raise anything)
                if cell.is_test:
                    how = _how(exc, answer_cells)
                    shape, named = described[-1] if how == "hint" and described else ((), [])
                    outcomes.append(VisibleOutcome(cell.grade_id, how, f"{type(exc).__name__}: {exc}", tuple(named),
                                                   _statement(source, cell.grade_id, exc), shape))
                continue
            if cell.is_test:
                outcomes.append(VisibleOutcome(cell.grade_id, "passed"))
    return [o for o in outcomes if only is None or o.cell == only]
