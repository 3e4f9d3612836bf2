"""The notebooks' visible tests, run in process on every catalogued mistake and every answer of the corpus
(tests/grading/corpus/): a wrong answer fails with a hint (or raises in its own code), a visible test never
crashes in its own code, a correct answer passes, and a hint never names a cause from a family its check
does not have (masks without a mask, batch dimensions without a batch, a factor that changes from check to
check in a single comparison, ...)."""

from __future__ import annotations

import re
import warnings
from functools import cache

import pytest

from attnbook.grading.checks import Assignment
from conftest import ASSIGNMENTS, ROOT
from corpus import chapter
from spoken import spoken
from visible import VisibleOutcome, run_visible_tests


@cache
def assignment(name: str) -> Assignment:
    return Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")


@cache
def outcomes(name: str) -> dict[str, list[tuple[str, str, VisibleOutcome]]]:
    """Return, per kind ("mistake", "wrong", "correct"), (exercise, what, outcome of its visible test)."""
    a, corpus = assignment(name), chapter(name)
    found: dict[str, list] = {"mistake": [], "wrong": [], "correct": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # wrong answers overflow on purpose
        for ex in a.exercises:
            answers = [("mistake", f"mistake {m.key}", form.source) for m in ex.mistakes for form in m.forms()]
            answers += [("wrong", w.about, w.source) for w in corpus.WRONG[ex.name]]
            answers += [("correct", c.about, c.source) for c in corpus.CORRECT[ex.name]]
            for kind, about, source in answers:
                [outcome] = run_visible_tests(a, {**a.reference_answers, ex.name: source}, only=ex.points_cell)
                found[kind].append((ex.name, about, outcome))
    return found


def unfounded(outcome: VisibleOutcome) -> list[str]:
    """Return the sentences the analyses named in a hint that speak of what the failing check does not have."""
    has = {"several rows"} if len(outcome.expected_shape) >= 2 and outcome.expected_shape[-2] >= 2 else set()
    has |= {"masks"} if re.search(r"mask|causal|padd", outcome.statement, re.I) else set()
    has |= {"batch"} if re.search(r"batch", outcome.statement, re.I) else set()
    return [sentence for sentence in outcome.named if spoken(sentence) - has]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_catalogued_mistake_fails_its_visible_test_with_a_hint_or_in_its_own_code(name):
    problems = [(ex, about, o.how, o.error) for ex, about, o in outcomes(name)["mistake"]
                if o.how not in ("hint", "student")]
    assert not problems


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_answer_makes_a_visible_test_crash_in_its_own_code(name):
    problems = [(kind, ex, about, o.statement, o.error) for kind, found in outcomes(name).items()
                for ex, about, o in found if o.how in ("test-crash", "stub")]
    assert not problems


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_correct_answers_in_every_style_pass_the_visible_tests(name):
    problems = [(ex, about, o.how, o.error) for ex, about, o in outcomes(name)["correct"] if o.how != "passed"]
    assert not problems


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_visible_hints_never_name_a_cause_from_a_family_their_check_does_not_have(name):
    problems = [(kind, ex, about, o.statement, bad) for kind in ("mistake", "wrong")
                for ex, about, o in outcomes(name)[kind] if (bad := unfounded(o))]
    assert not problems


def test_most_visible_hints_name_a_relation():
    """The analyses add something to the test's own hint for a fair share of the wrong answers (a floor
    that catches analyses switched off, not a target)."""
    found = [o for name in ASSIGNMENTS for kind in ("mistake", "wrong") for _, _, o in outcomes(name)[kind]
             if o.how == "hint"]
    assert sum(bool(o.named) for o in found) >= 0.15 * len(found)
