"""Run an assignment's hidden checks for one submission: reference in the parent, student in the child.

Messages come out in the current language (`i18n.language`, set per submission by the runner): labels and
messages are made while grading, and the catalogue's mistake sentences, written when the checks module runs
(in English, whatever the current language then), are translated when a cause is named.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import i18n
from ..i18n import t
from . import drivers, wire
from .analyses import analyse_family, layout_finding
from .child import without_line
from .relations import Trial
from .compare import difference
from .notebook import TemplateCell, build_program, parse_template
from .spec import CORE, FAMILIES, Case, Exercise, Mistake, checks_from_source


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
    family: str = CORE


@dataclass
class FamilyScore:
    """The points one family of checks earned."""

    family: str
    points: float
    max_points: float
    passed: int
    total: int


@dataclass
class Cause:
    """A named cause of failed checks: a catalogued mistake or a relation the analyses found."""

    key: str
    message: str
    checks: list[str] = field(default_factory=list)  # labels of the failed checks it explains
    families: list[str] = field(default_factory=list)
    source: str = "catalogue"  # or "analysis"
    english: str = ""  # for the instructor's class report: the message in English, where it is in another language


@dataclass
class ExerciseResult:
    name: str
    points: float
    max_points: float
    checks: list[CheckResult] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)
    mistake_keys: list[str] = field(default_factory=list)
    families: list[FamilyScore] = field(default_factory=list)
    causes: list[Cause] = field(default_factory=list)

    def __post_init__(self):  # stored results come back as plain dicts
        self.checks = [c if isinstance(c, CheckResult) else CheckResult(**c) for c in self.checks]
        self.families = [f if isinstance(f, FamilyScore) else FamilyScore(**f) for f in self.families]
        self.causes = [c if isinstance(c, Cause) else Cause(**c) for c in self.causes]

    @property
    def explained(self) -> set[str]:
        """Return the labels of the failed checks that some named cause explains."""
        return {label for cause in self.causes for label in cause.checks}


def uses_torch(name: str, solutions_dir: Path, checks_dir: Path) -> bool:
    """Return whether an assignment's reference code or hidden checks use torch, read from the files without
    running them (so that the fork server can start with or without torch before the reference is built).
    A file that cannot be read counts as using torch: the server then has everything, and building the
    assignment reports the problem."""
    try:
        template = parse_template((Path(solutions_dir) / name / f"{name}.ipynb").read_text(encoding="utf-8"))
        checks = (Path(checks_dir) / f"{name}.py").read_text(encoding="utf-8")
    except (OSError, ValueError, KeyError, TypeError):
        return True
    code = "\n".join(cell.source for cell in template)
    return bool(re.search(r"^\s*(import|from)\s+torch\b", code, re.M) or re.search(r"\btorch\b", checks))


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
        with i18n.language("en"):  # the mistakes' sentences stay English templates, translated when named
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
        self._mistake_ns: dict[tuple[str, str, str], dict] = {}

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
        if (exercise, mistake.key, mistake.source) not in self._mistake_ns:
            ns = dict(self.reference_ns)
            exec(compile(mistake.source, f"<mistake {mistake.key}>", "exec"), ns)
            self._mistake_ns[exercise, mistake.key, mistake.source] = ns
        return self._mistake_ns[exercise, mistake.key, mistake.source]


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
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)  # tiny tensors: a thread pool only adds waiting (20 ms per softmax on 2 busy cores)
    try:
        with _TRUSTED, np.errstate(all="ignore"):
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


UNTRUSTED_ENDINGS = ("NotRun", "Timeout", "BadValue", "Crashed")  # outcomes that say nothing about the code's logic


def judge(case: Case, expected: Outcome, actual: Outcome) -> str | None:
    """Return None when the student's outcome is right for this case, else what is wrong."""
    if case.raises:
        if actual.error_type == case.raises:
            return None
        if actual.error:
            return t("should raise {expected}, but it raised {got}", expected=case.raises, got=actual.error)
        return t("should raise {expected}, but it returned normally", expected=case.raises)
    if expected.error:
        raise RuntimeError(f"the reference failed on case {case.label!r}: {expected.error}")
    if actual.error_type in UNTRUSTED_ENDINGS:  # not an exception of the code: say what happened as it is
        return actual.error
    if actual.error:
        return t("raised {error}", error=actual.error)
    return difference(expected.value, actual.value, case.atol, case.rtol, reveal=case.public)


def same_outcome(case: Case, a: Outcome, b: Outcome) -> bool:
    """Return True when two outcomes agree (same exception class or both returned, or equal values)."""
    if case.raises:
        return (a.error_type or "returned") == (b.error_type or "returned")
    if a.error or b.error:
        return a.error_type == b.error_type and _error_text(a) == _error_text(b)
    return difference(a.value, b.value, case.atol, case.rtol) is None


def _error_text(outcome: Outcome) -> str:
    """Return an exception's message without what differs between runs (cell line numbers, addresses)."""
    return re.sub(r"0x[0-9a-fA-F]+", "0x", without_line(outcome.error or ""))[:300]


def family_scores(exercise: Exercise, checks: list[CheckResult], max_points: float) -> list[FamilyScore]:
    """Return each family's points: its weight times the share of its checks passed, every family but the
    core one also times the core's share (edge cases score only together with the formula)."""
    present = [f for f in FAMILIES if any(c.family == f for c in checks)]
    if set(present) != set(exercise.weights):
        raise ValueError(f"{exercise.name}: checks of families {present} but weights for {sorted(exercise.weights)}")
    share = {f: sum(c.passed for c in checks if c.family == f) / sum(c.family == f for c in checks) for f in present}
    scores = []
    for f in present:
        worth = max_points * exercise.weights[f]
        gate = 1.0 if f == CORE else share[CORE]
        scores.append(FamilyScore(f, worth * share[f] * gate, worth, sum(c.passed for c in checks if c.family == f),
                                  sum(c.family == f for c in checks)))
    return scores


def score_exercise(assignment: Assignment, exercise: Exercise, cases: list[Case],
                   actual: list[Outcome]) -> ExerciseResult:
    """Compare the student's outcomes with the reference's, score each family, and name the causes."""
    expected = [call_in_process(assignment.reference_ns, exercise.name, c) for c in cases]
    checks = []
    for case, exp, act in zip(cases, expected, actual):
        message = judge(case, exp, act)
        checks.append(CheckResult(case.label, message is None, message or "", case.family))
    max_points = assignment.points[exercise.name]
    families = family_scores(exercise, checks, max_points)
    result = ExerciseResult(exercise.name, sum(f.points for f in families), max_points, checks, families=families)
    diagnosis = Diagnosis(assignment, exercise, cases, expected, actual, checks)
    result.causes = diagnosis.causes()
    if result.causes and i18n.current() != "en":
        with i18n.language("en"):  # the same causes (the variants' outcomes are cached), worded for the report
            english = diagnosis.causes()
        if [c.key for c in english] == [c.key for c in result.causes]:
            for cause, worded in zip(result.causes, english):
                cause.english = worded.message
    result.diagnoses = [c.message for c in result.causes]
    result.mistake_keys = [c.key for c in result.causes if c.source == "catalogue"]
    return result


class Diagnosis:
    """Name the causes of one exercise's failed checks, family by family, consistently or not at all.

    A catalogued mistake is named for a family when it reproduces the student's outcome on every check of
    that family (passed ones included) and fails no check that the student passed. Where no mistake is
    named, the analyses say which relation between the values holds on every check of the family.
    """

    def __init__(self, assignment: Assignment, exercise: Exercise, cases: list[Case], expected: list[Outcome],
                 actual: list[Outcome], checks: list[CheckResult]):
        self.assignment, self.exercise, self.cases = assignment, exercise, cases
        self.expected, self.actual, self.checks = expected, actual, checks
        self._outcomes: dict[tuple[str, str, int], Outcome] = {}
        self.forms = [form for m in exercise.mistakes for form in m.forms()]

    def mistake_outcome(self, mistake: Mistake, i: int) -> Outcome:
        """Return what the known-wrong variant does on case i (cached)."""
        if (mistake.key, mistake.source, i) not in self._outcomes:
            ns = self.assignment.mistake_namespace(self.exercise.name, mistake)
            self._outcomes[mistake.key, mistake.source, i] = call_in_process(ns, self.exercise.name, self.cases[i])
        return self._outcomes[mistake.key, mistake.source, i]

    def reproduces(self, mistake: Mistake, family: list[int]) -> bool:
        """True when the mistake matches every check of the family and fails no check the student passed."""
        if not all(same_outcome(self.cases[i], self.mistake_outcome(mistake, i), self.actual[i]) for i in family):
            return False
        return all(judge(self.cases[i], self.expected[i], self.mistake_outcome(mistake, i)) is None
                   for i, c in enumerate(self.checks) if c.passed and i not in family)

    def agreement(self, mistake: Mistake) -> frozenset[int]:
        """Return the checks on which the mistake's outcome is the student's."""
        return frozenset(i for i, case in enumerate(self.cases)
                         if same_outcome(case, self.mistake_outcome(mistake, i), self.actual[i]))

    def best(self, candidates: list[Mistake]) -> list[Mistake]:
        """Drop a candidate when another one reproduces the student on every check it does, and on more."""
        if len(candidates) > 1:
            agree = {id(m): self.agreement(m) for m in candidates}
            candidates = [m for m in candidates if not any(agree[id(m)] < agree[id(o)] for o in candidates)]
        return list({m.key: m for m in candidates}.values())

    def causes(self) -> list[Cause]:
        """Return the named causes, merged across families, in the order they were found."""
        if all(a.error_type == "NotImplementedError" for a in self.actual):
            return []  # the stub: nothing to diagnose
        groups = {f: [i for i, c in enumerate(self.checks) if c.family == f] for f in FAMILIES}
        passed = {f: all(self.checks[i].passed for i in members) for f, members in groups.items()}
        found: dict[str, Cause] = {}
        try:
            layout = layout_finding([self.trial(i) for i in range(len(self.cases))])
        except Exception:  # noqa: BLE001
            layout = None
        for family, members in groups.items():
            failed = [i for i in members if not self.checks[i].passed]
            if not failed or any(self.actual[i].error_type in UNTRUSTED_ENDINGS for i in failed):
                continue
            labels = [self.checks[i].label for i in failed]
            named = self.best([m for m in self.forms if self.reproduces(m, members)])
            for m in named:
                _merge(found, Cause(m.key, _translated(m.message, i18n.current()), labels, [family], "catalogue"))
            if named:
                continue
            if layout and set(labels) <= set(layout.labels):
                _merge(found, Cause(f"analysis:{layout.kind}", layout.message, labels, [family], "analysis"))
                continue
            ordinary = passed[CORE] and (family in (CORE, "batch", "arguments") or passed["batch"])
            for finding in self.analyses(family, members, ordinary):
                _merge(found, Cause(f"analysis:{finding.kind}", finding.message, list(finding.labels), [family],
                                    "analysis"))
        return list(found.values())

    def analyses(self, family: str, members: list[int], ordinary: bool) -> list:
        """Return the analyses' findings for one family; an analysis that fails says nothing (never a crash)."""
        try:
            return analyse_family(family, [self.trial(i) for i in members], ordinary, self.exercise.outputs)
        except Exception:  # noqa: BLE001  (student values can be anything the wire allows)
            return []

    def trial(self, i: int) -> Trial:
        """Return check i as the analyses see it."""
        case, act = self.cases[i], self.actual[i]
        arrays = [a for a in case.args if isinstance(a, np.ndarray)]
        return Trial(case.label, self.expected[i].value, act.value, act.error_type, self.checks[i].passed,
                     case.sizes, case.raises, case.atol, case.rtol, tuple(a.ndim for a in arrays))


@functools.lru_cache(maxsize=4096)
def _translated(message: str, lang: str) -> str:
    return i18n.retranslate(message, lang)


def _merge(found: dict[str, Cause], cause: Cause) -> None:
    if cause.key not in found:
        found[cause.key] = cause
        return
    known = found[cause.key]
    known.checks += [label for label in cause.checks if label not in known.checks]
    known.families += [f for f in cause.families if f not in known.families]


def child_job(assignment: Assignment, answers: dict[str, str], cases: dict[str, list[Case]],
              call_seconds: float) -> dict:
    """Return the job sent to the child: the rebuilt program and every call, as plain data, and the language its
    messages are written in (the current one)."""
    calls = [{"name": name, "driver": c.driver, "args": wire.encode(tuple(c.args)), "kwargs": wire.encode(c.kwargs)}
             for name, group in cases.items() for c in group]
    return {"program": build_program(assignment.template, answers), "calls": calls, "timeout": call_seconds,
            "language": i18n.current()}
