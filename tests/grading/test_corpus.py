"""The grader on a corpus of realistic answers (tests/grading/corpus/): correct ones in many styles score
full marks; wrong ones lose points, and every cause the feedback names is one the answer really has."""

from __future__ import annotations

import warnings

import pytest

from attnbook.grading.checks import Assignment
from conftest import ASSIGNMENTS, ROOT
from corpus import accepted, chapter, grade_in_process

SEEDS = (0, 1, 2)
_assignments: dict[str, Assignment] = {}


def assignment(name: str) -> Assignment:
    if name not in _assignments:
        _assignments[name] = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
    return _assignments[name]


def _grade(name: str, exercise: str, source: str, seed: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # wrong answers overflow on purpose
        return grade_in_process(assignment(name), exercise, source, seed)


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
