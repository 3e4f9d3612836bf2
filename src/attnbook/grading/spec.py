"""The vocabulary of hidden checks: cases, families and their weights, known-wrong variants and exercises.

Each assignment's checks live in `autograde/checks/<assignment>.py` (grader-only) and define
`EXERCISES: list[Exercise]`. This module holds only the types and the loader.

Every check belongs to a **family** (what it tests); each exercise states what share of its points each
family carries. The points of every family but "random" are earned in proportion to the "random" ones, so
code that fails the formula itself scores nothing from edge cases.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..i18n import t

FAMILIES = ("random", "batch", "masks", "extremes", "edges", "arguments")
CORE = "random"
MAX_ARGUMENTS_SHARE = 0.15


def family_title(family: str) -> str:
    """Return the words a student reads for a family ("random inputs", "argument checks", ...)."""
    titles = {
        "random": t("random inputs"),
        "batch": t("batch dimensions"),
        "masks": t("masks"),
        "extremes": t("extreme values"),
        "edges": t("edge cases"),
        "arguments": t("argument checks"),
    }
    return titles[family]


@dataclass(frozen=True)
class Case:
    """One call of an exercise: plain-data arguments, how to call it, and how closely to compare.

    `family` defaults to "arguments" for a case that must raise and to "random" otherwise. `sizes` names
    the quantities of this case that a constant factor may come from (`{"d_k": 8, "tau": 0.5}`); they stay
    in the grader. `public` marks a fixed case whose inputs the notebook states: only then may feedback
    show expected values.
    """

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    driver: str = "call"
    atol: float = 1e-6
    rtol: float = 1e-5
    raises: str | None = None  # name of the exception class the call must raise, if any
    family: str = ""
    sizes: dict = field(default_factory=dict)
    public: bool = False

    def __post_init__(self):
        if not self.family:
            object.__setattr__(self, "family", "arguments" if self.raises else CORE)
        if self.family not in FAMILIES:
            raise ValueError(f"case {self.label!r}: unknown family {self.family!r} (one of {', '.join(FAMILIES)})")
        if (self.family == "arguments") != bool(self.raises):
            raise ValueError(f"case {self.label!r}: argument checks, and only they, must raise")


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer: its source (a whole answer cell) and the sentence feedback shows.

    `implies` lists the keys of other catalogued mistakes that this code also makes (an unstable softmax
    without a guard also gives NaN on fully masked rows): naming those for it is right, not a wrong diagnosis.
    `variants` are further sources that make the same mistake with other side effects (the mistake is named
    when any form reproduces the student).
    """

    key: str
    message: str
    source: str
    implies: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()

    def forms(self) -> list["Mistake"]:
        """Return this mistake and one copy per variant, each with a single source."""
        return [self] + [Mistake(self.key, self.message, v, self.implies) for v in self.variants]


@dataclass(frozen=True)
class Exercise:
    """A graded function or class: `cases(rng)` makes its checks, `mistakes` its wrong variants.

    `weights` maps each family of its checks to its share of the exercise's points (they sum to 1; argument
    checks carry at most 15 %). `outputs` names the items of a tuple result, for messages.
    """

    name: str
    cases: Callable[[np.random.Generator], list[Case]]
    mistakes: tuple[Mistake, ...] = ()
    test_cell: str = ""  # grade_id of the visible test cell that carries the points
    weights: dict = field(default_factory=lambda: {CORE: 1.0})
    outputs: tuple[str, ...] = ()

    def __post_init__(self):
        unknown = set(self.weights) - set(FAMILIES)
        if unknown or CORE not in self.weights:
            raise ValueError(f"{self.name}: weights need the family {CORE!r} and only known families, got "
                             f"{sorted(self.weights)}")
        if abs(sum(self.weights.values()) - 1) > 1e-9 or min(self.weights.values()) <= 0:
            raise ValueError(f"{self.name}: the weights must be positive and sum to 1, got {self.weights}")
        if self.weights.get("arguments", 0) > MAX_ARGUMENTS_SHARE + 1e-9:
            raise ValueError(f"{self.name}: argument checks may carry at most 15 % of the points")

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
