"""The generic analyses name a relation only when it holds on every check of a family (consistent or
silent); family scores weigh what matters; diagnoses per family name two bugs twice and never a cause that
a passed check contradicts; feedback never shows the expected values of per-student random cases."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from attnbook.grading.analyses import Trial, analyse_family, describe, layout_finding
from attnbook.grading.checks import Assignment, CheckResult, call_in_process, family_scores, judge, same_outcome
from attnbook.grading.feedback import render
from attnbook.grading.runner import SubmissionResult
from attnbook.grading.spec import Case, Exercise
from conftest import ROOT
from corpus import grade_in_process

RNG = np.random.default_rng(7)


def _trials(pairs, sizes=None, passed=None):
    sizes = sizes or [{}] * len(pairs)
    passed = passed or [False] * len(pairs)
    return [Trial(f"case {i}", e, a, passed=p, sizes=s) for i, ((e, a), s, p) in enumerate(zip(pairs, sizes, passed))]


def test_a_constant_factor_is_named_with_the_size_it_comes_from():
    pairs, sizes = [], []
    for d_k in (4, 9, 16):
        e = RNG.normal(size=(3, 5))
        pairs.append((e, e * np.sqrt(d_k)))
        sizes.append({"d_k": d_k, "n_k": 5})
    found = analyse_family("random", _trials(pairs, sizes), ordinary=False)
    assert [f.kind for f in found] == ["factor:sqrt(d_k)"] and "sqrt(d_k) times" in found[0].message


def test_a_factor_that_a_passed_check_contradicts_is_not_named():
    e1, e2 = RNG.normal(size=(3, 5)), RNG.normal(size=(2, 4))
    trials = _trials([(e1, 2 * e1), (e2, e2)], [{"d_k": 4}, {"d_k": 4}], passed=[False, True])
    assert all(not f.kind.startswith("factor:sqrt") for f in analyse_family("random", trials, ordinary=False))


def test_two_axes_swapped_and_another_normalisation_axis_are_named():
    e = RNG.normal(size=(2, 3, 4))
    assert analyse_family("random", _trials([(e, np.swapaxes(e, -1, -2))]), False)[0].kind == "axes:swap -1 -2"
    z = np.exp(RNG.normal(size=(2, 3, 4)))
    rows, cols = z / z.sum(-1, keepdims=True), z / z.sum(-2, keepdims=True)
    assert analyse_family("random", _trials([(rows, cols)]), False)[0].kind == "other-axis"


def test_fully_masked_rows_that_get_uniform_weights_or_nan_are_named_for_the_masks_family():
    w = np.exp(RNG.normal(size=(3, 4)))
    w /= w.sum(-1, keepdims=True)
    w[1] = 0.0
    uniform, nan = w.copy(), w.copy()
    uniform[1], nan[1] = 0.25, np.nan
    for actual, kind in ((uniform, "uniform"), (nan, "nan")):
        found = analyse_family("masks", _trials([(w, actual)]), ordinary=True)
        assert found[0].kind == f"masks-only:fully-masked:{kind}", found


def test_right_without_batch_dimensions_but_raising_with_them():
    trials = [Trial("batch", RNG.normal(size=(2, 3)), None, error="ValueError")]
    found = analyse_family("batch", trials, ordinary=True)
    assert found and "without batch dimensions" in found[0].message and "ValueError" in found[0].message
    assert analyse_family("batch", trials, ordinary=False) == []


def test_one_batch_layout_only_is_named_and_contradicting_layouts_are_not():
    ok = [Trial("3-D", 1.0, 1.0, passed=True, layout=(3, 3))]
    bad = [Trial("2-D", 1.0, None, error="ValueError", layout=(2, 2))]
    assert layout_finding(ok + bad).kind == "layout"
    assert layout_finding(ok + bad + [Trial("2-D passes", 1.0, 1.0, passed=True, layout=(2, 2))]) is None


def test_argument_checks_say_what_should_raise():
    trials = [Trial("tau=0", None, np.ones(3), raises="ValueError"),
              Trial("tau<0", None, None, error="AssertionError", raises="ValueError")]
    kinds = {f.kind for f in analyse_family("arguments", trials, ordinary=True)}
    assert kinds == {"missing-raise", "wrong-exception"}


def test_a_dtype_only_difference_is_named():
    e = RNG.random((3, 4)) < 0.5
    found = analyse_family("random", _trials([(e, e.astype(float))]), ordinary=False)
    assert found[0].kind == "dtype" and "bool" in found[0].message


def test_the_visible_tests_get_the_same_relations_on_one_case():
    expected = np.array([[0.5, 2.0, -1.0]])
    assert "sqrt(d_k) times" in describe(expected, 2 * expected, {"d_k": 4})[0]
    assert describe(expected, expected) == []


def test_family_points_gate_edge_cases_on_the_core_and_cap_argument_checks():
    ex = Exercise("f", lambda rng: [], weights={"random": 0.6, "edges": 0.25, "arguments": 0.15})
    checks = lambda r, e, a: ([CheckResult("r", r, "", "random")] + [CheckResult("e", e, "", "edges")]
                              + [CheckResult("a", a, "", "arguments")])
    total = lambda *flags: sum(f.points for f in family_scores(ex, checks(*flags), 4.0))
    assert total(False, True, True) == 0                         # a stub that only raises or returns []
    assert total(True, True, False) == pytest.approx(4 * 0.85)  # a missing argument check costs 15 %
    assert total(True, True, True) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        Exercise("g", lambda rng: [], weights={"random": 0.8, "arguments": 0.2})


def _masked_softmax(key: str, seed: int = 0):
    assignment = Assignment("ch04_three_stages", ROOT / "solutions", ROOT / "autograde" / "checks")
    ex = next(e for e in assignment.exercises if e.name == "masked_softmax")
    source = next(m.source for m in ex.mistakes if m.key == key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return assignment, ex, grade_in_process(assignment, ex.name, source, seed)


def test_a_mistake_that_reproduces_the_failures_but_fails_a_passed_check_is_not_named():
    assignment, ex, res = _masked_softmax("softmax-nan-fully-masked")
    unstable = next(m for m in ex.mistakes if m.key == "softmax-unstable")
    cases, ns = assignment.cases(0)[ex.name], assignment.mistake_namespace(ex.name, unstable)
    student = assignment.mistake_namespace(ex.name, next(m for m in ex.mistakes if m.key == "softmax-nan-fully-masked"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcomes = [(call_in_process(ns, ex.name, c), call_in_process(student, ex.name, c),
                     call_in_process(assignment.reference_ns, ex.name, c)) for c in cases]
    failed = [i for i, c in enumerate(res.checks) if not c.passed]
    assert failed and all(same_outcome(cases[i], *outcomes[i][:2]) for i in failed)   # it explains the failures
    assert any(judge(cases[i], outcomes[i][2], outcomes[i][0]) for i, c in enumerate(res.checks) if c.passed)
    assert [c.key for c in res.causes] == ["softmax-nan-fully-masked"]


def test_two_bugs_in_two_families_get_two_named_causes():
    assignment = Assignment("ch05_focus", ROOT / "solutions", ROOT / "autograde" / "checks")
    source = ("def softmax_with_temperature(scores, tau):\n    z = np.asarray(scores, float) / tau\n"
              "    e = np.exp(z - z.max(axis=0))\n    return e / e.sum(axis=0)\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = grade_in_process(assignment, "softmax_with_temperature", source, 0)
    keys = {c.key for c in res.causes}
    assert "softmax-over-first-axis" in keys and keys & {"no-tau-check", "analysis:missing-raise"}, keys


def test_feedback_never_shows_the_expected_values_of_random_cases():
    assignment, ex, res = _masked_softmax("softmax-mask-filled-with-zero", seed=3)
    page = render(SubmissionResult("someone", assignment.name, res.points, res.max_points, [res]))
    numbers = set(re.findall(r"-?\d+\.\d+", page))
    for case in assignment.cases(3)[ex.name]:
        if case.public or case.raises:
            continue
        expected = np.ravel(call_in_process(assignment.reference_ns, ex.name, case).value)
        shown = {f"{v:.6g}" for v in expected if 0.01 < abs(v) < 0.99} & numbers
        assert not shown, (case.label, shown)


def test_every_case_label_and_mistake_message_comes_from_a_template():
    for name in ("ch04_three_stages", "ch07_self_attention"):
        assignment = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
        for ex in assignment.exercises:
            assert all(isinstance(c, Case) and c.label for c in assignment.cases(0)[ex.name])
    for path in (ROOT / "autograde" / "checks").glob("*.py"):
        source = path.read_text()
        assert not re.search(r'(Case|_case)\((rng, )?f?"', source), f"{path.name}: a label without t()"
        assert not re.search(r'(Mistake|_mistake)\("[\w-]+", f?"', source), f"{path.name}: a message without t()"


# ---------------------------------------------------------------- relations that misfired, reproduced

def _hint(expected, actual, **kwargs) -> str:
    return " ".join(describe(np.asarray(expected, float), np.asarray(actual, float), **kwargs))


@pytest.mark.parametrize("expected, actual", [
    ([0.0, 0.5], [0.0993393, 0.5]),                        # ch01 rnn_encode, transposed recurrent weights: H[1]
    ([0.0, 0.0, 30.0], [40.0, 40.0, 40.0]),                # ch03 hard_lookup with argmin
    ([0.0, 0.0, 30.0], [10.0, 0.0, 0.0]),                  # ch03 hard_lookup, the nearest key
    ([[0.0, 1.0], [2.0, 0.0]], [[3.0, 2.0], [0.0, 1.0]]),  # ch03 project_qkv, K from W_q
    ([[1.0, 0.0, 1.0, 0.0]], [[0.80811, 0.1, 0.6, 0.0]]),  # ch04 cosine_scores over the wrong axis
    ([0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]),          # ch07 sinusoidal encoding, sin and cos swapped
])
def test_values_with_zeros_but_no_mask_never_get_a_mask_sentence(expected, actual):
    assert "mask" not in _hint(expected, actual).lower()


def test_masked_keys_are_named_only_for_weights_under_a_mask():
    expected, actual = [[0.5, 0.0, 0.5], [0.25, 0.5, 0.25]], [[0.4, 0.2, 0.4], [0.25, 0.5, 0.25]]
    assert "Masked keys get weight" in _hint(expected, actual, masked=True)
    assert "mask" not in _hint(expected, actual).lower()
    assert "mask" not in _hint([0.0, 0.0, 30.0], [40.0, 40.0, 40.0], masked=True).lower()   # values, not weights
    uniform = _hint([[0.5, 0.5], [0.0, 0.0]], [[0.5, 0.5], [0.5, 0.5]], masked=True)
    assert "fully masked rows" in uniform and "-1e9" in uniform
    assert "fully masked" not in _hint([[0.5, 0.5], [0.0, 0.0]], [[0.5, 0.5], [0.5, 0.5]])


def test_the_mask_relations_are_tried_on_the_masks_family_only():
    e = np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])
    a = np.array([[0.4, 0.2, 0.4], [0.2, 0.3, 0.5]])
    assert analyse_family("masks", _trials([(e, a)]), ordinary=False)[0].kind == "masked-keys"
    assert all("mask" not in f.message for f in analyse_family("random", _trials([(e, a)]), ordinary=False))


def test_a_single_comparison_never_gets_a_factor_that_changes_from_check_to_check():
    e = np.array([0.119203, 0.0, 0.880797])
    hint = _hint(e, 0.755 * e)                               # ch04 masked_softmax, mask after the softmax
    assert "check to check" not in hint and "0.755 times the expected ones" in hint
    one = analyse_family("edges", _trials([(np.array([1.0, 2.0]), np.array([4.43, 8.86]))]), ordinary=False)
    assert [f.kind for f in one] == ["factor:constant"]


def test_a_factor_that_changes_needs_two_checks_that_differ():
    e1, e2 = RNG.normal(size=(3, 4)), RNG.normal(size=(2, 5))
    differ = analyse_family("random", _trials([(e1, 1.7 * e1), (e2, 2.9 * e2)]), ordinary=False)
    assert [f.kind for f in differ] == ["factor:varying"] and "check to check" in differ[0].message
    same = analyse_family("random", _trials([(e1, 1.7 * e1), (e2, 1.7 * e2)]), ordinary=False)
    assert [f.kind for f in same] == ["factor:constant"] and "1.7 times" in same[0].message


def test_a_single_number_or_a_rounding_is_no_evidence_of_a_factor():
    scalars = _trials([(np.array(2.0), np.array(8.86)), (np.array(1.0), np.array(0.3))])  # any two numbers
    assert analyse_family("edges", scalars, ordinary=False) == []
    e = RNG.normal(size=(2, 3))
    assert describe(e, e * 0.99998, atol=1e-7) == []           # float32 rounding, "1 times the expected ones"


def test_a_row_factor_needs_rows_of_two_entries_and_factors_that_differ():
    e = RNG.normal(size=(4, 3, 1))                             # ch06 split_heads, as many heads as features:
    a = np.swapaxes(e.reshape(3, 4, 1), 0, 1).reshape(4, 3, 1)   # rows of one entry, each a "multiple" of any
    assert all(f.kind != "row-factor" for f in analyse_family("edges", _trials([(e, a)]), ordinary=False))
    rows = np.exp(RNG.normal(size=(3, 4)))
    weights = rows / rows.sum(-1, keepdims=True)
    found = analyse_family("random", _trials([(weights, rows / rows.sum())]), ordinary=False)
    assert [f.kind for f in found] == ["row-factor"] and "row to row" in found[0].message


def test_relation_sentences_are_translated_when_they_are_made():
    from attnbook.grading.relations import masked_keys_relation, row_factor_relation
    from attnbook.i18n import language

    english = row_factor_relation().message, masked_keys_relation().message
    with language("zh_CN"):
        chinese = row_factor_relation().message, masked_keys_relation().message
    assert all(c != e and re.search(r"[\u4e00-\u9fff]", c) for c, e in zip(chinese, english))
