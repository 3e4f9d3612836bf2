"""Build a batch of mixed submissions of one assignment in nbgrader's layout (for the benchmark)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "autograde"))

from make_samples import submission  # noqa: E402

from attnbook.grading.checks import Assignment  # noqa: E402


def kinds(assignment: Assignment) -> list[tuple[str, dict[str, str] | None]]:
    """Return the kinds of submission, in the order a batch cycles through them: correct, blank, partly
    wrong (every other exercise's first mistake), then each known mistake alone."""
    ref = assignment.reference_answers
    partly = {**ref, **{ex.name: ex.mistakes[0].source for ex in assignment.exercises[::2] if ex.mistakes}}
    out: list[tuple[str, dict[str, str] | None]] = [("correct", ref), ("blank", None), ("partly", partly)]
    out += [(f"{ex.name}-{m.key}", {**ref, ex.name: m.source}) for ex in assignment.exercises for m in ex.mistakes]
    return out


def write_batch(assignment: Assignment, n: int, dest: Path) -> dict[str, str]:
    """Write `n` submissions under `dest/<student>/<assignment>/`; return {student: kind}."""
    released = json.loads((ROOT / "notebooks" / assignment.name / f"{assignment.name}.ipynb").read_text())
    cycle = kinds(assignment)
    students = {}
    for i in range(n):
        kind, answers = cycle[i % len(cycle)]
        student = f"student{i:04d}"
        path = dest / student / assignment.name / f"{assignment.name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(released if answers is None else submission(released, answers)))
        students[student] = kind
    return students
