"""Analyses that need no catalogue: which relation holds between a student's values and the expected ones.

A relation (a constant factor such as sqrt(d_k), two axes swapped, weights normalised over another axis,
right except on fully masked rows, ...) is named for a family of checks only when it holds on *every*
check of that family, the passed ones included: consistent or silent. The grader runs these on hidden
checks (`analyse_family`), the visible tests on one visible case (`describe`). Messages say how the values
relate, never what the expected values of a hidden case are.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..i18n import alternatives, enumeration, listing, sentences, t
from .compare import difference, is_numeric
from .relations import Relation, Trial, equal, holds_everywhere, pair, value_relations


@dataclass(frozen=True)
class Finding:
    """A relation that holds on every check of a family, and the failed checks it explains."""

    kind: str
    message: str
    labels: tuple[str, ...] = ()


def _dtype_only(tr: Trial, item: int | None) -> bool:
    exp, act = tr.expected, tr.actual
    if item is not None:
        if not (isinstance(exp, tuple) and isinstance(act, (tuple, list)) and len(act) == len(exp)):
            return False
        exp, act = exp[item], act[item]
    if not (isinstance(exp, np.ndarray) and isinstance(act, np.ndarray)) or exp.shape != act.shape:
        return False
    if not (np.issubdtype(act.dtype, np.number) or act.dtype == bool):
        return False
    return bool(np.array_equal(exp.astype(float), act.astype(float)))


def _item_name(item: int | None, outputs: tuple[str, ...]) -> str:
    if item is None:
        return ""
    return outputs[item] if item < len(outputs) else t("item {i}", i=item)


def _items(trials: list[Trial]) -> list[int | None]:
    first = next(tr for tr in trials if not tr.passed)
    if isinstance(first.expected, tuple):
        return list(range(len(first.expected)))
    return [None]


def _tuple_order(trials: list[Trial], outputs: tuple[str, ...]) -> Finding | None:
    """The items of a tuple result are the expected ones in another order, on every trial."""
    first = next(tr for tr in trials if not tr.passed)
    if not (isinstance(first.expected, tuple) and isinstance(first.actual, (tuple, list))
            and len(first.actual) == len(first.expected) > 1):
        return None
    n = len(first.expected)
    for perm in itertools.permutations(range(n)):
        if list(perm) == list(range(n)):
            continue
        if all(not tr.passed and isinstance(tr.actual, (tuple, list)) and len(tr.actual) == n
               and all(difference(tr.expected[perm[i]], tr.actual[i], tr.atol, tr.rtol) is None for i in range(n))
               for tr in trials):
            names = [_item_name(i, outputs) for i in range(n)]
            return Finding("order", t("The items of your result are in the wrong order: return ({expected}); "
                                      "yours has {got}.", expected=", ".join(names),
                                      got=", ".join(names[p] for p in perm)))
    return None


def _is_token_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def _sequence_finding(trials: list[Trial]) -> Finding | None:
    """Lists of tokens: the student's list stops early, or goes on past the end, on every failed trial."""
    if not all(_is_token_list(tr.expected) and _is_token_list(tr.actual) for tr in trials):
        return None
    def relation(tr):
        e, a = tr.expected, tr.actual
        if a == e:
            return "equal"
        if len(a) < len(e) and e[:len(a)] == a:
            return "early"
        if len(a) > len(e) and a[:len(e)] == e:
            return "late"
        return "other"
    kinds = {relation(tr) for tr in trials} - {"equal"}
    if kinds == {"early"}:
        return Finding("sequence:early", t("Your tokens are right as far as they go, but your decoding stops too "
                                           "early."))
    if kinds == {"late"}:
        return Finding("sequence:late", t("Your tokens start with the expected ones, but your decoding goes on past "
                                          "where it should stop."))
    return None


def value_findings(trials: list[Trial], masked: bool = False, outputs: tuple[str, ...] = ()) -> list[Finding]:
    """Return the relations between values that hold on every trial (at least one trial failed); relations
    that speak of masks only for checks with a mask (`masked`)."""
    failed = [tr for tr in trials if not tr.passed]
    if not failed or any(tr.error for tr in failed):
        return []
    sequence = _sequence_finding(trials)
    if sequence:
        return [sequence]
    order = _tuple_order(trials, outputs)
    if order:
        return [order]
    found = []
    for item in _items(trials):
        first = next((tr for tr in failed if not equal(tr, item)), None)
        if first is None:
            continue
        prefix = _item_name(item, outputs)
        values = pair(first, item)
        relations = value_relations(*values, first, masked) if values else []
        match = next((rel for rel in relations if holds_everywhere(rel, trials, item)), None)
        if match is None and all(_dtype_only(tr, item) or tr.passed for tr in trials):
            match = Relation("dtype", lambda *_: True, _dtype_message(first, item))
        if match is None:
            continue
        if prefix:
            found.append(Finding(f"{prefix}:{match.kind}", t("In {item}: {message}", item=prefix, message=match.message)))
        else:
            found.append(Finding(match.kind, match.message))
    return found


def _dtype_message(tr: Trial, item: int | None) -> str:
    exp, act = (tr.expected, tr.actual) if item is None else (tr.expected[item], tr.actual[item])
    return t("Your values are right but of dtype {got}; the result must have dtype {expected}.", got=act.dtype,
             expected=exp.dtype)


def _kind_finding(failed: list[Trial], outputs: tuple[str, ...]) -> Finding | None:
    """Every failed trial returned a value of another kind (a list for an array, str keys for int keys, ...)."""
    for item in _items(failed):
        def parts(tr):
            if item is None:
                return tr.expected, tr.actual
            if isinstance(tr.actual, (tuple, list)) and len(tr.actual) == len(tr.expected):
                return tr.expected[item], tr.actual[item]
            return None
        pairs = [parts(tr) for tr in failed]
        if any(p is None for p in pairs):
            return None
        kinds = {(type(a).__name__, type(e).__name__) for e, a in pairs}
        name = _item_name(item, outputs)
        if len(kinds) == 1 and all(type(a) is not type(e) and not (is_numeric(a) and is_numeric(e))
                                   for e, a in pairs):
            got, expected = kinds.pop()
            message = t("Your function returns a {got} where a {expected} is expected.", got=got, expected=expected)
            return Finding("kind", t("In {item}: {message}", item=name, message=message) if name else message)
        if all(isinstance(e, dict) and isinstance(a, dict) and set(e) != set(a)
               and {str(k) for k in e} == {str(k) for k in a} for e, a in pairs):
            return Finding("keys", t("Your dictionary has the right keys but of another type (e.g. {got!r} instead "
                                     "of {expected!r}).", got=next(iter(pairs[0][1])),
                                     expected=next(iter(pairs[0][0]))))
    return None


def _shape_finding(failed: list[Trial]) -> Finding | None:
    """Every failed trial returned an array of the wrong shape."""
    shapes = []
    for tr in failed:
        e, a = tr.expected, tr.actual
        if not (isinstance(e, np.ndarray) and isinstance(a, np.ndarray)) or e.shape == a.shape:
            return None
        shapes.append((a.shape, e.shape, tr.label))
    got, expected, label = shapes[0]
    return Finding("shape", t("Your result has the wrong shape: {got} instead of {expected} in “{label}”.",
                              got=got, expected=expected, label=label))


def _how(failed: list[Trial]) -> str:
    """Say in a few words how the failed trials went wrong (for family-level findings)."""
    errors = {tr.error for tr in failed if tr.error}
    if errors and all(tr.error for tr in failed) and len(errors) == 1:
        return t("it raises {error}.", error=errors.pop())
    shape = _shape_finding(failed)
    if shape:
        return shape.message
    if any(pair(tr, None) is not None and np.any(~np.isfinite(pair(tr, None)[1])) for tr in failed):
        return t("NaN or infinity appears where the expected values are finite.")
    return t("the values differ.")


def _argument_findings(trials: list[Trial]) -> list[Finding]:
    normal = [tr for tr in trials if not tr.passed and tr.raises and tr.error is None]
    other = [tr for tr in trials if not tr.passed and tr.raises and tr.error]
    found = []
    if normal:
        found.append(Finding("missing-raise", t("The argument check is missing: {labels}: the call must raise {error}, "
                                                "but yours returns normally.",
                                                labels=listing(f"“{tr.label}”" for tr in normal),
                                                error=normal[0].raises), tuple(tr.label for tr in normal)))
    if other and all(tr.error != "NotImplementedError" for tr in other):
        errors = sorted({tr.error for tr in other})
        found.append(Finding("wrong-exception", t("{labels}: yours raises {got} instead of {error}: check the "
                                                  "argument yourself and raise {error} with a message.",
                                                  labels=listing(f"“{tr.label}”" for tr in other),
                                                  got=enumeration(errors), error=other[0].raises),
                             tuple(tr.label for tr in other)))
    return found


def analyse_family(family: str, trials: list[Trial], ordinary: bool, outputs: tuple[str, ...] = ()) -> list[Finding]:
    """Return what the analyses can say about one family of checks (empty when nothing holds everywhere).

    `ordinary` says whether the code is right on ordinary inputs: the random family passed (for the batch
    and argument families), or the random and batch families both passed (for masks, extremes, edges).
    """
    failed = [tr for tr in trials if not tr.passed]
    if not failed or any(tr.error == "NotImplementedError" for tr in failed):
        return []
    labels = tuple(tr.label for tr in failed)
    if family == "arguments":
        return _argument_findings(trials) if ordinary else []
    found = value_findings(trials, family == "masks", outputs)
    if not found and not any(tr.error for tr in failed):
        other = _shape_finding(failed) or _kind_finding(failed, outputs)
        found = [other] if other else []
    if family != "random" and ordinary:
        detail = sentences(*(f.message for f in found)) or _how(failed)
        kind = found[0].kind if found else "context"
        passed = len(trials) - len(failed)
        if family == "batch" and passed:
            lead = t("Right without batch dimensions and in {passed} of {total} checks with them, but not in the "
                     "others: your code must accept any number of leading axes.", passed=passed, total=len(trials))
        else:
            lead = {
                "batch": t("Right without batch dimensions, but not with them:"),
                "extremes": t("Right on ordinary inputs, but not at extreme magnitudes (numerical stability):"),
                "masks": t("Right without masks, but not with them:"),
                "edges": t("Right on the random inputs, but not on these edge cases:"),
            }[family]
        return [Finding(f"{family}-only:{kind}", sentences(lead, detail), labels)]
    return [Finding(f.kind, f.message, labels) for f in found]


def layout_finding(trials: list[Trial]) -> Finding | None:
    """The code raises for some numbers of input axes and is right for all others (one batch layout only)."""
    calls = [tr for tr in trials if not tr.raises and tr.layout]
    failed = [tr for tr in calls if not tr.passed]
    if not failed or any(not tr.error or tr.error == "NotImplementedError" for tr in failed):
        return None
    if len({len(tr.layout) for tr in calls}) > 1:
        return None
    varying = [p for p in range(len(calls[0].layout)) if len({tr.layout[p] for tr in calls}) > 1]
    bad = sorted({tuple(tr.layout[p] for p in varying) for tr in failed})
    good = sorted({tuple(tr.layout[p] for p in varying) for tr in calls if tr.passed})
    if not varying or not good or set(bad) & set(good):
        return None
    errors = sorted({tr.error for tr in failed})
    return Finding("layout", t("Your code works when its array arguments have {good} axes but raises {error} when "
                               "they have {bad}: it must accept any number of leading (batch) axes.",
                               good=_layouts(good), bad=_layouts(bad), error=alternatives(errors)),
                   tuple(tr.label for tr in failed))


def _layouts(layouts: list[tuple]) -> str:
    return alternatives(str(layout[0]) if len(layout) == 1 else str(layout) for layout in layouts)


def describe(expected: Any, actual: Any, sizes: dict | None = None, atol: float = 1e-6, rtol: float = 1e-5,
             label: str = "", masked: bool = False) -> list[str]:
    """Return the relations that hold between one actual value and the expected one (for visible tests);
    `masked` says that the check has a mask (only then may a relation speak of masked keys)."""
    trial = Trial(label, expected, actual, sizes=dict(sizes or {}), atol=atol, rtol=rtol)
    if difference(expected, actual, atol, rtol) is None:
        return []
    try:
        found = value_findings([trial], masked) or ([f] if (f := _shape_finding([trial])) else [])
    except (ValueError, TypeError, IndexError):
        return []
    return [f.message for f in found]
