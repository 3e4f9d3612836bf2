"""The vocabulary of hidden checks: cases, tolerances, known-wrong variants and exercises.

Each assignment's checks live in `autograde/checks/<assignment>.py` (grader-only) and define
`EXERCISES: list[Exercise]`. This module holds only the types and the loader.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    """One call of an exercise: plain-data arguments, how to call it, and how closely to compare."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    driver: str = "call"
    atol: float = 1e-6
    rtol: float = 1e-5
    raises: str | None = None  # name of the exception class the call must raise, if any


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer: its source (a whole answer cell) and the sentence feedback shows."""

    key: str
    message: str
    source: str


@dataclass(frozen=True)
class Exercise:
    """A graded function or class: `cases(rng)` makes its checks, `mistakes` its wrong variants."""

    name: str
    cases: Callable[[np.random.Generator], list[Case]]
    mistakes: tuple[Mistake, ...] = ()
    test_cell: str = ""  # grade_id of the visible test cell that carries the points

    @property
    def grade_id(self) -> str:
        """Return the grade_id of the answer cell: the exercise name."""
        return self.name

    @property
    def points_cell(self) -> str:
        """Return the grade_id of the test cell whose points this exercise's checks award."""
        return self.test_cell or f"test_{self.name}"


def load_checks(checks_dir: Path, assignment: str) -> list[Exercise]:
    """Import `checks_dir/<assignment>.py` and return its EXERCISES."""
    path = Path(checks_dir) / f"{assignment}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no hidden checks for assignment {assignment!r}")
    return checks_from_source(path.read_text(encoding="utf-8"), assignment, str(path))


def checks_from_source(source: str, assignment: str, filename: str = "<checks>") -> list[Exercise]:
    """Run the source of a checks module and return its EXERCISES."""
    module = types.ModuleType(f"attnbook_checks_{assignment}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    exercises = getattr(module, "EXERCISES", None)
    if not isinstance(exercises, list) or not all(isinstance(e, Exercise) for e in exercises):
        raise TypeError(f"{filename}: EXERCISES must be a list of attnbook.grading.spec.Exercise")
    return exercises

