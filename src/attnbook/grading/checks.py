"""Run an assignment's hidden checks for one submission: reference in the parent, student in the child."""

from __future__ import annotations

import copy
import functools
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import drivers, wire
from .compare import difference
from .notebook import TemplateCell, build_program, parse_template
from .spec import Case, Exercise, Mistake, checks_from_source


@dataclass
class Outcome:
    """What a call produced: a value, or an exception's class name and message."""

    value: Any = None
    error: str | None = None
    error_type: str | None = None


@dataclass
class CheckResult:
    label: str
    passed: bool
    message: str = ""


@dataclass
class ExerciseResult:
    name: str
    points: float
    max_points: float
    checks: list[CheckResult] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)
    mistake_keys: list[str] = field(default_factory=list)


class Assignment:
    """One assignment as the grader sees it: template, hidden checks and the reference namespace.

    Pickling sends only the two source texts; the receiving process rebuilds (once) what it needs.
    """

    def __init__(self, name: str, solutions_dir: Path, checks_dir: Path):
        checks = Path(checks_dir) / f"{name}.py"
        if not checks.is_file():
            raise FileNotFoundError(f"{checks}: no hidden checks for assignment {name!r}")
        self._build(name, (Path(solutions_dir) / name / f"{name}.ipynb").read_text(encoding="utf-8"),
                    checks.read_text(encoding="utf-8"))

    def _build(self, name: str, template_text: str, checks_text: str) -> None:
        self.name = name
        self.sources = (template_text, checks_text)
        self.template: list[TemplateCell] = parse_template(template_text)
        self.exercises: list[Exercise] = checks_from_source(checks_text, name, f"<checks of {name}>")
        self.reference_answers = {c.grade_id: c.source for c in self.template if c.is_answer}
        self.reference_ns = run_in_process(build_program(self.template, self.reference_answers))
        points = {c.grade_id: c.points for c in self.template if c.is_test}
        self.points = {}
        for ex in self.exercises:
            if ex.grade_id not in self.reference_answers or ex.points_cell not in points:
                raise ValueError(f"{name}: exercise {ex.name!r} needs answer cell {ex.grade_id!r} and "
                                 f"test cell {ex.points_cell!r} in the solutions notebook")
            self.points[ex.name] = points[ex.points_cell]
        self._mistake_ns: dict[tuple[str, str], dict] = {}

    def __reduce__(self):
        return _rebuilt, (self.name, *self.sources)

    @property
    def fingerprint(self) -> str:
        """Return a digest of everything that decides a grade here: the template with its reference
        solutions, and the hidden checks with their mistakes."""
        h = hashlib.sha256()
        for part in (self.name, *self.sources):
            h.update(part.encode("utf-8", "surrogateescape") + b"\0")
        return h.hexdigest()

    @property
    def max_score(self) -> float:
        """Return the total points of the assignment."""
        return float(sum(self.points.values()))

    def cases(self, seed: int) -> dict[str, list[Case]]:
        """Return each exercise's cases, drawn from a generator seeded with `seed`."""
        return {ex.name: ex.cases(np.random.default_rng([seed, i])) for i, ex in enumerate(self.exercises)}

    def mistake_namespace(self, exercise: str, mistake: Mistake) -> dict:
        """Return the reference namespace with one answer replaced by a known-wrong variant (cached)."""
        if (exercise, mistake.key) not in self._mistake_ns:
            ns = dict(self.reference_ns)
            exec(compile(mistake.source, f"<mistake {mistake.key}>", "exec"), ns)
            self._mistake_ns[exercise, mistake.key] = ns
        return self._mistake_ns[exercise, mistake.key]


@functools.lru_cache(maxsize=16)
def _rebuilt(name: str, template_text: str, checks_text: str) -> Assignment:
    assignment = Assignment.__new__(Assignment)
    assignment._build(name, template_text, checks_text)
    return assignment


def run_in_process(program: list[tuple[str, str]]) -> dict:
    """Execute trusted cells (the reference) in a fresh namespace and return it."""
    ns: dict = {"__name__": "__main__"}
    for grade_id, source in program:
        exec(compile(source, f"<cell {grade_id}>", "exec"), ns)
    return ns


_TRUSTED = threading.Lock()  # references may use global state (RNGs): one trusted call at a time


def call_in_process(ns: dict, name: str, case: Case) -> Outcome:
    """Call an exercise in a trusted namespace exactly as the child would."""
    try:
        with _TRUSTED:
            value = drivers.DRIVERS[case.driver](ns, name, list(copy.deepcopy(case.args)), copy.deepcopy(case.kwargs))
        return Outcome(value=wire.decode(wire.encode(value)))
    except Exception as exc:  # noqa: BLE001  (a wrong variant may raise anything)
        return Outcome(error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__)


def submission_seed(secret: str, student: str, assignment: str, submission_digest: str) -> int:
    """Return the seed of one submission's random cases: unpredictable without the secret, new for every
    new submission (so feedback on one cannot become a table of answers for the next), and the same
    whenever the same bytes are graded again."""
    text = f"{secret}\0{student}\0{assignment}\0{submission_digest}"
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "little")


def judge(case: Case, expected: Outcome, actual: Outcome) -> str | None:
    """Return None when the student's outcome is right for this case, else what is wrong."""
    if case.raises:
        if actual.error_type == case.raises:
            return None
        got = f"it raised {actual.error}" if actual.error else "it returned normally"
        return f"should raise {case.raises}, but {got}"
    if expected.error:
        raise RuntimeError(f"the reference failed on case {case.label!r}: {expected.error}")
    if actual.error_type == "NotRun":
        return actual.error
    if actual.error:
        return f"raised {actual.error}"
    return difference(expected.value, actual.value, case.atol, case.rtol)


def same_outcome(case: Case, a: Outcome, b: Outcome) -> bool:
    """Return True when two outcomes agree (same exception class, or equal values)."""
    if a.error or b.error:
        return a.error_type == b.error_type
    return difference(a.value, b.value, case.atol, case.rtol) is None


def score_exercise(assignment: Assignment, exercise: Exercise, cases: list[Case],
                   actual: list[Outcome]) -> ExerciseResult:
    """Compare the student's outcomes with the reference's; diagnose known mistakes among the failures."""
    ref_ns = assignment.reference_ns
    expected = [call_in_process(ref_ns, exercise.name, c) for c in cases]
    checks = []
    for case, exp, act in zip(cases, expected, actual):
        message = judge(case, exp, act)
        checks.append(CheckResult(case.label, message is None, message or ""))
    passed = sum(c.passed for c in checks)
    max_points = assignment.points[exercise.name]
    result = ExerciseResult(exercise.name, max_points * passed / len(checks), max_points, checks)
    failed = [i for i, c in enumerate(checks) if not c.passed]
    # A known mistake explains the failures when it fails the same way on every failed case (same values,
    # or the same exception class); code that never ran or crashed the child explains nothing.
    if failed and not any(actual[i].error_type in ("NotRun", "Timeout", "BadValue") for i in failed):
        for mistake in exercise.mistakes:
            ns = assignment.mistake_namespace(exercise.name, mistake)
            if all(same_outcome(cases[i], call_in_process(ns, exercise.name, cases[i]), actual[i]) for i in failed):
                result.diagnoses.append(mistake.message)
                result.mistake_keys.append(mistake.key)
    return result


def child_job(assignment: Assignment, answers: dict[str, str], cases: dict[str, list[Case]],
              call_seconds: float) -> dict:
    """Return the job sent to the child: the rebuilt program and every call, as plain data."""
    calls = [{"name": name, "driver": c.driver, "args": wire.encode(tuple(c.args)), "kwargs": wire.encode(c.kwargs)}
             for name, group in cases.items() for c in group]
    return {"program": build_program(assignment.template, answers), "calls": calls, "timeout": call_seconds}
