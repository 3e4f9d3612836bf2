"""A corpus of realistic answers to every exercise, written the way people write them in public code.

Each chapter's module defines `CORRECT` (answers that must score full marks) and `WRONG` (answers that
must lose points, each with the causes it really has), per exercise name. Causes are catalogue keys or
analysis kinds (`"analysis:factor:sqrt(d_k)"`); an expected cause also accepts any more specific kind
(`"analysis:batch-only"` accepts `"analysis:batch-only:shape"`). Nothing here is copied from elsewhere.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field

from attnbook.grading.checks import Assignment, ExerciseResult, Outcome, call_in_process, run_in_process, score_exercise
from attnbook.grading.notebook import build_program


@dataclass(frozen=True)
class Answer:
    """One realistic answer cell: what it is, its source, and (for wrong answers) its true causes."""

    about: str
    source: str
    causes: frozenset = field(default_factory=frozenset)

    def __init__(self, about: str, source: str, causes=()):
        object.__setattr__(self, "about", about)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "causes", frozenset(causes))


def chapter(assignment: str):
    """Return the corpus module of one assignment."""
    return importlib.import_module(f"corpus.{assignment}")


def accepted(named: str, causes: frozenset) -> bool:
    """Return True when a named cause key is one of the answer's true causes (or more specific)."""
    return any(named == c or named.startswith(c + ":") for c in causes)


def run_program(assignment: Assignment, answers: dict[str, str]) -> dict:
    """Execute the template with these answers in this process, each cell on its own (like the child)."""
    ns: dict = {"__name__": "__main__"}
    for grade_id, source in build_program(assignment.template, answers):
        try:
            exec(compile(source, f"<cell {grade_id}>", "exec"), ns)
        except Exception:  # noqa: BLE001  (a wrong answer may fail at definition time)
            pass
    return ns


def grade_in_process(assignment: Assignment, exercise: str, source: str, seed: int,
                     catalogue: bool = True) -> ExerciseResult:
    """Score one answer to one exercise (the other answers are the reference's) on the cases of `seed`
    (`catalogue=False`: diagnose with the generic analyses only, as for a mistake nobody catalogued)."""
    ns = run_program(assignment, {**assignment.reference_answers, exercise: source})
    ex = next(e for e in assignment.exercises if e.name == exercise)
    if not catalogue:
        ex = dataclasses.replace(ex, mistakes=())
    cases = assignment.cases(seed)[exercise]
    actual = [call_in_process(ns, exercise, case) for case in cases]
    return score_exercise(assignment, ex, cases, actual)


__all__ = ["Answer", "Outcome", "accepted", "chapter", "grade_in_process", "run_in_process"]
