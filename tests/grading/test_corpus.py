"""The grader on a corpus of realistic answers (tests/grading/corpus/): correct ones in many styles score
full marks; wrong ones lose points, and every cause the feedback names is one the answer really has and
speaks only of what the exercise and the checks it explains have."""

from __future__ import annotations

import warnings

import pytest

from attnbook.grading.checks import Assignment
from conftest import ASSIGNMENTS, ROOT
from corpus import accepted, chapter, grade_in_process
from spoken import has_mask, spoken

SEEDS = (0, 1, 2)
_assignments: dict[str, Assignment] = {}


def assignment(name: str) -> Assignment:
    if name not in _assignments:
        _assignments[name] = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
    return _assignments[name]


def _grade(name: str, exercise: str, source: str, seed: int, catalogue: bool = True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # wrong answers overflow on purpose
        return grade_in_process(assignment(name), exercise, source, seed, catalogue)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_corpus_has_three_correct_styles_and_wrong_answers_for_every_exercise(name):
    corpus = chapter(name)
    for ex in assignment(name).exercises:
        assert len(corpus.CORRECT.get(ex.name, [])) >= 3, f"{ex.name}: fewer than three correct answers"
        assert corpus.WRONG.get(ex.name), f"{ex.name}: no realistic wrong answers"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_correct_answers_in_every_style_score_full_marks(name):
    failures = []
    for exercise, answers in chapter(name).CORRECT.items():
        for answer in answers:
            for seed in SEEDS:
                res = _grade(name, exercise, answer.source, seed)
                failures += [(exercise, answer.about, seed, c.label, c.message) for c in res.checks if not c.passed]
    assert not failures


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_wrong_answers_lose_points_and_no_cause_named_is_wrong(name):
    problems = []
    for exercise, answers in chapter(name).WRONG.items():
        for answer in answers:
            assert answer.causes, f"{exercise} / {answer.about}: a wrong answer must list its true causes"
            for seed in SEEDS:
                res = _grade(name, exercise, answer.source, seed)
                if res.points >= res.max_points:
                    problems.append((exercise, answer.about, seed, "scores full marks"))
                if all(c.passed or c.family == "arguments" for c in res.checks) and \
                        res.points < 0.85 * res.max_points - 1e-9:
                    problems.append((exercise, answer.about, seed, "a missing argument check costs over 15 %"))
                wrong = [(c.key, c.message) for c in res.causes if not accepted(c.key, answer.causes)]
                if wrong:
                    problems.append((exercise, answer.about, seed, "wrong diagnosis", wrong))
    assert not problems


def test_at_least_80_percent_of_the_realistic_wrong_answers_get_a_named_cause():
    named = total = 0
    for name in ASSIGNMENTS:
        for exercise, answers in chapter(name).WRONG.items():
            for answer in answers:
                res = _grade(name, exercise, answer.source, SEEDS[0])
                total += 1
                named += bool(res.causes)
    assert named / total >= 0.8, f"{named} of {total} realistic wrong answers get a named cause"


def _unfounded(cause, exercise, cases: dict) -> set[str]:
    """Return what a cause named by the analyses speaks of that the checks it explains (or its exercise) do not
    have: masks, batch dimensions, argument checks, extremes, edge cases, several checks. (A catalogued
    message describes its own code, and is named only when that code reproduces the student.)"""
    checks = [cases[label] for label in cause.checks]
    has = {"several rows"}  # rows are the unit tests' business (test_analyses.py)
    has |= {"masks"} if "mask" in exercise.name.lower() or all(has_mask(c) for c in checks) else set()
    has |= {"batch"} if "batch" in exercise.weights else set()
    has |= {f for f in ("arguments", "extremes", "edges") if checks and all(c.family == f for c in checks)}
    has |= {"several checks"} if len(checks) >= 2 else set()
    return spoken(cause.message) - has


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_named_cause_speaks_of_a_family_its_exercise_or_checks_do_not_have(name):
    """Every catalogued mistake and every realistic wrong answer, graded with the catalogue and without it
    (the analyses alone, as for a mistake nobody catalogued)."""
    problems = []
    for ex in assignment(name).exercises:
        sources = [form.source for m in ex.mistakes for form in m.forms()]
        sources += [answer.source for answer in chapter(name).WRONG[ex.name]]
        for seed in SEEDS[:2]:
            cases = {c.label: c for c in assignment(name).cases(seed)[ex.name]}
            assert len(cases) == len(assignment(name).cases(seed)[ex.name]), f"{ex.name}: two checks share a label"
            for source in sources:
                for catalogue in (True, False):
                    res = _grade(name, ex.name, source, seed, catalogue)
                    problems += [(ex.name, seed, catalogue, c.key, c.message, bad) for c in res.causes
                                 if c.source == "analysis" and (bad := _unfounded(c, ex, cases))]
    assert not problems
