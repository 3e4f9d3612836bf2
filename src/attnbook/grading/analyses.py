"""Analyses that need no catalogue: which relation holds between a student's values and the expected ones.

A relation (a constant factor such as sqrt(d_k), two axes swapped, weights normalised over another axis,
right except on fully masked rows, ...) is named for a family of checks only when it holds on *every*
check of that family, the passed ones included: consistent or silent. The grader runs these on hidden
checks (`analyse_family`), the visible tests on one visible case (`describe`). Messages say how the values
relate, never what the expected values of a hidden case are.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ..i18n import t
from .compare import difference, is_numeric


@dataclass(frozen=True)
class Trial:
    """One check as the analyses see it: the expected value, and the student's value or exception."""

    label: str
    expected: Any
    actual: Any = None
    error: str | None = None  # the student's exception class name when the call raised
    passed: bool = False
    sizes: dict = field(default_factory=dict)
    raises: str | None = None
    atol: float = 1e-6
    rtol: float = 1e-5
    layout: tuple = ()  # the number of axes of each array argument


@dataclass(frozen=True)
class Finding:
    """A relation that holds on every check of a family, and the failed checks it explains."""

    kind: str
    message: str
    labels: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------ value helpers

def _floats(value: Any) -> np.ndarray | None:
    """Return a numeric (non-bool) value as a float64 array, else None."""
    if not is_numeric(value):
        return None
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        return None
    return arr.astype(np.float64)


def _close(a: np.ndarray, b: np.ndarray, tr: Trial) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=tr.atol, rtol=tr.rtol))


def _pair(tr: Trial, item: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Return (expected, actual) as float arrays for the whole result or one item of a tuple result
    (a dict of numbers with the expected keys counts as the array of its values, in key order)."""
    exp, act = tr.expected, tr.actual
    if item is not None:
        if not (isinstance(exp, tuple) and isinstance(act, (tuple, list)) and len(act) == len(exp)):
            return None
        exp, act = exp[item], act[item]
    if isinstance(exp, dict) and isinstance(act, dict) and exp and set(exp) == set(act):
        keys = sorted(exp, key=repr)
        exp, act = [exp[k] for k in keys], [act[k] for k in keys]
        if not all(is_numeric(v) for v in exp + act):
            return None
        exp, act = np.asarray(exp, dtype=float), np.asarray(act, dtype=float)
    e, a = _floats(exp), _floats(act)
    return None if e is None or a is None else (e, a)


def _equal(tr: Trial, item: int | None) -> bool:
    pair = _pair(tr, item)
    return pair is not None and _close(pair[1], pair[0], tr)


@dataclass(frozen=True)
class Relation:
    """A predicate on (expected, actual, trial) and the sentence that names it."""

    kind: str
    holds: Callable[[np.ndarray, np.ndarray, Trial], bool]
    message: str


def _holds_everywhere(rel: Relation, trials: list[Trial], item: int | None) -> bool:
    """Return True when `rel` holds on every trial (a trial whose call raised contradicts it)."""
    for tr in trials:
        pair = _pair(tr, item)
        try:
            if pair is None or not rel.holds(pair[0], pair[1], tr):
                return False
        except (ValueError, FloatingPointError, ZeroDivisionError, IndexError, TypeError):
            return False
    return True


# ------------------------------------------------------------------------------------------ relations

def _expressions(sizes: dict) -> Iterator[tuple[str, float]]:
    """Yield (name, value) of the factors a named size can produce: s, 1/s, sqrt(s), 1/sqrt(s), s^2, 1/s^2."""
    for name, v in sizes.items():
        v = float(v)
        if v <= 0 or v == 1:
            continue
        yield name, v
        yield f"1/{name}", 1 / v
        yield f"sqrt({name})", math.sqrt(v)
        yield f"1/sqrt({name})", 1 / math.sqrt(v)
        yield f"{name}^2", v * v
        yield f"1/{name}^2", 1 / (v * v)
        if v > 1:
            yield f"ln({name})", math.log(v)
            yield f"1/ln({name})", 1 / math.log(v)


CONSTANTS = (("-1", -1.0), ("2", 2.0), ("1/2", 0.5), ("100", 100.0), ("1/100", 0.01), ("1/ln(2)", 1 / math.log(2)),
             ("ln(2)", math.log(2)))


def _ratio(e: np.ndarray, a: np.ndarray) -> float | None:
    """Return r with a = r * e (one number for the whole array), or None when there is none."""
    if e.shape != a.shape or not np.all(np.isfinite(a)):
        return None
    big = np.abs(e) > 1e-9 * max(1.0, float(np.abs(e).max(initial=0.0)))
    if not big.any():
        return None
    r = float(np.median(a[big] / e[big]))
    return r if np.isfinite(r) and abs(r) > 1e-12 else None


def _factor_relations(e: np.ndarray, a: np.ndarray, tr: Trial) -> list[Relation]:
    """Relations 'a = f * e' proposed by one failed trial: named factors first, a constant, then any factor."""
    r = _ratio(e, a)
    if r is None or abs(r - 1) < 1e-9 or not np.allclose(a, r * e, atol=tr.atol, rtol=1e-4):
        return []
    found = []
    for name, value in _expressions(tr.sizes):
        if math.isclose(value, r, rel_tol=1e-4):
            found.append(_named_factor(name, tr))
    for name, value in CONSTANTS:
        if math.isclose(value, r, rel_tol=1e-6):
            found.append(Relation(f"factor:{name}", _fixed_factor(value),
                                  t("Your values are {factor} times the expected ones in every check.", factor=name)))
    found.append(Relation("factor:varying", _some_factor, t("Your values are proportional to the expected ones, but scaled "
                                                    "by a factor that changes from check to check (e.g. {factor} in "
                                                    "“{label}”): a scale or a normalisation that depends on the "
                                                    "input is off.", factor=f"{r:.3g}", label=tr.label)))
    return found


def _named_factor(name: str, example: Trial) -> Relation:
    def holds(e, a, tr):
        value = dict(_expressions(tr.sizes)).get(name)
        return value is not None and np.allclose(a, value * e, atol=tr.atol, rtol=1e-4)

    value = dict(_expressions(example.sizes))[name]
    return Relation(f"factor:{name}", holds, t("Your values are {factor} times the expected ones ({factor} = {value} in "
                                       "“{label}”).", factor=name, value=f"{value:.3g}", label=example.label))


def _fixed_factor(value: float) -> Callable:
    return lambda e, a, tr: np.allclose(a, value * e, atol=tr.atol, rtol=1e-4)


def _some_factor(e: np.ndarray, a: np.ndarray, tr: Trial) -> bool:
    r = _ratio(e, a)
    return _close(a, e, tr) or (r is not None and np.allclose(a, r * e, atol=tr.atol, rtol=1e-4))


def _row_factor(e: np.ndarray, a: np.ndarray, tr: Trial) -> bool:
    """Each row (last axis) of a is a multiple of the same row of e."""
    if e.ndim < 2 or e.shape != a.shape or not np.all(np.isfinite(a)):
        return False
    rows_e, rows_a = e.reshape(-1, e.shape[-1]), a.reshape(-1, a.shape[-1])
    for re_, ra in zip(rows_e, rows_a):
        r = _ratio(re_, ra)
        if not (np.allclose(ra, re_, atol=tr.atol, rtol=tr.rtol)
                or (r is not None and np.allclose(ra, r * re_, atol=tr.atol, rtol=1e-4))):
            return False
    return True


ROW_FACTOR = Relation("row-factor", _row_factor,
                      t("Each row of your result is a multiple of the expected row, by a factor that differs from row "
                        "to row: the normalisation is off (for weights: every row must sum to 1)."))


def _axis_moves(ndim: int) -> list[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    moves = [("swap -1 -2", lambda x: np.swapaxes(x, -1, -2))]
    if ndim >= 3:
        moves += [("swap -2 -3", lambda x: np.swapaxes(x, -2, -3)), ("swap -1 -3", lambda x: np.swapaxes(x, -1, -3)),
                  ("reverse", lambda x: np.transpose(x))]
    return moves


def _axis_relations(e: np.ndarray, a: np.ndarray, tr: Trial) -> list[Relation]:
    found = []
    for name, move in _axis_moves(e.ndim):
        moved = move(e)
        if moved.shape == a.shape and _close(a, moved, tr) and not _close(a, e, tr):
            found.append(_axis_relation(name))
    return found


def _axis_relation(name: str) -> Relation:
    def holds(e, a, tr):
        moves = dict(_axis_moves(e.ndim))
        return name in moves and _close(a, moves[name](e), tr)

    if name == "swap -1 -2":
        message = t("Your result is transposed: its last two axes are swapped (rows hold what belongs in columns).")
    elif name == "reverse":
        message = t("Your result has the expected values with all its axes in reverse order (.T reverses every "
                    "axis; np.swapaxes(x, -1, -2) swaps only the last two).")
    else:
        first, second = name.split()[1:]
        message = t("Your result has the expected values, but axes {first} and {second} are swapped.", first=first,
                    second=second)
    return Relation(f"axes:{name}", holds, message)


def _permutation(a: np.ndarray, e: np.ndarray, axis: int, tr: Trial) -> list[int] | None:
    """Return p with a[..., j] == e[..., p[j]] along `axis` (a bijection), or None."""
    if a.shape != e.shape or e.ndim < 2:
        return None
    a_cols, e_cols = np.moveaxis(a, axis, 0), np.moveaxis(e, axis, 0)
    free, perm = set(range(len(e_cols))), []
    for col in a_cols:
        match = next((k for k in sorted(free) if np.allclose(col, e_cols[k], atol=tr.atol, rtol=tr.rtol)), None)
        if match is None:
            return None
        perm.append(match)
        free.discard(match)
    return perm


def _permuted_relation(axis: int, e: np.ndarray, a: np.ndarray, tr: Trial) -> Relation | None:
    perm = _permutation(a, e, axis, tr)
    if perm is None or perm == sorted(perm):
        return None
    j = next(i for i, p in enumerate(perm) if p != i)
    holds = lambda e_, a_, tr_: _permutation(a_, e_, axis, tr_) is not None  # noqa: E731
    if axis == -1:
        message = t("Every column of your result is right but some are in the wrong place (e.g. your column {j} "
                    "is the expected column {k} in “{label}”).", j=j, k=perm[j], label=tr.label)
    else:
        message = t("Every row of your result is right but some are in the wrong place (e.g. your row {j} is the "
                    "expected row {k} in “{label}”).", j=j, k=perm[j], label=tr.label)
    return Relation(f"permuted:{axis}", holds, message)


def _sums_to_one(x: np.ndarray, axis: int) -> bool:
    s = x.sum(axis=axis)
    return bool(np.all(np.isclose(s, 1.0, atol=1e-6) | np.isclose(s, 0.0, atol=1e-12)))


def _normalised_over_other_axis(e: np.ndarray, a: np.ndarray, tr: Trial) -> bool:
    return (e.ndim >= 2 and e.shape == a.shape and bool(np.all(np.isfinite(a))) and _sums_to_one(e, -1)
            and not _sums_to_one(a, -1) and any(_sums_to_one(a, axis) for axis in range(-e.ndim, -1)))


def _other_axis_relations(e: np.ndarray, a: np.ndarray, tr: Trial) -> list[Relation]:
    if not _normalised_over_other_axis(e, a, tr):
        return []
    axis = next(axis for axis in range(-e.ndim, -1) if _sums_to_one(a, axis))
    return [Relation("other-axis", _normalised_over_other_axis,
                     t("Your weights sum to 1 over another axis (axis {axis} in “{label}”) instead of the last axis: "
                       "normalise over the keys (axis -1), so that each row sums to 1.", axis=axis, label=tr.label))]


def _zero_rows(e: np.ndarray) -> np.ndarray:
    rows = e.reshape(-1, e.shape[-1]) if e.ndim else e.reshape(1, 1)
    return np.all(rows == 0, axis=-1)


def _right_off_zero_rows(e: np.ndarray, a: np.ndarray, tr: Trial) -> bool:
    if e.shape != a.shape or e.ndim < 1:
        return False
    zero = _zero_rows(e)
    if zero.all():
        return bool(np.allclose(a, e, atol=tr.atol, rtol=tr.rtol))
    rows_e, rows_a = e.reshape(len(zero), -1), a.reshape(len(zero), -1)
    return bool(np.allclose(rows_a[~zero], rows_e[~zero], atol=tr.atol, rtol=tr.rtol))


def _zero_rows_instead(e: np.ndarray, a: np.ndarray, tr: Trial) -> str | None:
    """Return what the student has on the rows the reference leaves at zero, when only they differ."""
    if not _right_off_zero_rows(e, a, tr) or _close(a, e, tr):
        return None
    zero = _zero_rows(e)
    rows_a = a.reshape(len(zero), -1)[zero]
    wrong = rows_a[~np.all(np.isclose(rows_a, 0.0, atol=tr.atol), axis=-1)]
    if np.all(~np.isfinite(wrong)):
        return "nan"
    if np.all(np.isfinite(wrong)) and np.allclose(wrong, wrong[:, :1]) and np.allclose(wrong.sum(-1), 1.0):
        return "uniform"
    return "other"


def _zero_rows_relation(e: np.ndarray, a: np.ndarray, tr: Trial) -> Relation | None:
    instead = _zero_rows_instead(e, a, tr)
    if instead is None:
        return None

    def holds(e_, a_, tr_):
        got = _zero_rows_instead(e_, a_, tr_)
        return _close(a_, e_, tr_) or got == instead

    messages = {
        "nan": t("Your result is right except on fully masked rows (every key masked, expected all zeros): yours "
                 "hold NaN there (an exp of -inf minus -inf, or 0/0). Give such rows zero weight."),
        "uniform": t("Your result is right except on fully masked rows (every key masked, expected all zeros): yours "
                     "spread the weight evenly over the masked keys, which is what a large negative fill such as "
                     "-1e9 instead of -inf does. Give such rows zero weight."),
        "other": t("Your result is right except on fully masked rows (every key masked, expected all zeros): yours "
                   "are not zero there."),
    }
    return Relation(f"fully-masked:{instead}", holds, messages[instead])


def _masked_keys_weighted(e: np.ndarray, a: np.ndarray, tr: Trial) -> bool:
    """Rows without a zero weight are right; every wrong row has a key of expected weight 0 that got weight."""
    if e.shape != a.shape or e.ndim < 1 or not np.all(np.isfinite(a)):
        return False
    rows_e, rows_a = e.reshape(-1, e.shape[-1]), a.reshape(-1, a.shape[-1])
    for re_, ra in zip(rows_e, rows_a):
        if np.allclose(ra, re_, atol=tr.atol, rtol=tr.rtol):
            continue
        masked = (re_ == 0) & (np.abs(ra) > tr.atol)
        if not masked.any() or np.all(re_ == 0):
            return False
    return True


MASKED_KEYS = Relation("masked-keys", _masked_keys_weighted,
                       t("Your result is right on rows where no key is masked, but masked keys get weight: a masked "
                         "key must get weight exactly 0 (its score must be -inf before the softmax, not 0)."))


def _right_where_finite(e: np.ndarray, a: np.ndarray, tr: Trial) -> bool:
    """Right wherever the result is finite, and some of it is (an all-NaN result is not 'right except NaN')."""
    if e.shape != a.shape:
        return False
    finite = np.isfinite(a)
    if not finite.any() and e.size:
        return False
    return bool(np.allclose(a[finite], e[finite], atol=tr.atol, rtol=tr.rtol) and np.all(np.isfinite(e[~finite])
                                                                                      | (a[~finite] == e[~finite])))


def _not_finite_relation(e: np.ndarray, a: np.ndarray, tr: Trial) -> Relation | None:
    if e.shape != a.shape or not np.any(~np.isfinite(a) & np.isfinite(e)) or not _right_where_finite(e, a, tr):
        return None
    return Relation("not-finite", _right_where_finite,
                    t("Your result is right except for NaN or infinite entries where the expected values are finite: "
                      "an exp that overflows, or a 0/0 (subtract each row's maximum before exp; guard empty rows)."))


# ------------------------------------------------------------------------------------------ per-trial proposals

def _value_relations(e: np.ndarray, a: np.ndarray, tr: Trial, family: str | None) -> list[Relation]:
    """Every relation one failed trial suggests, most specific first."""
    found: list[Relation] = []
    if e.shape == a.shape:
        found += _factor_relations(e, a, tr)
    found += _axis_relations(e, a, tr) if e.ndim >= 2 else []
    for axis in (-1, -2):
        rel = _permuted_relation(axis, e, a, tr) if e.ndim >= 2 else None
        if rel:
            found.append(rel)
    if e.shape == a.shape:
        found += _other_axis_relations(e, a, tr)
        if family in (None, "masks"):
            rel = _zero_rows_relation(e, a, tr)
            found += [rel] if rel else []
            found += [MASKED_KEYS] if _masked_keys_weighted(e, a, tr) else []
        if _row_factor(e, a, tr) and not _factor_relations(e, a, tr):
            found.append(ROW_FACTOR)
        rel = _not_finite_relation(e, a, tr)
        found += [rel] if rel else []
    return found


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
        return Finding("sequence:early", t("Your tokens are right as far as they go, but your decoding stops too early "
                                           "in every failed check."))
    if kinds == {"late"}:
        return Finding("sequence:late", t("Your tokens start with the expected ones, but your decoding goes on past "
                                          "where it should stop in every failed check."))
    return None


def value_findings(trials: list[Trial], family: str | None = None, outputs: tuple[str, ...] = ()) -> list[Finding]:
    """Return the relations between values that hold on every trial (at least one trial failed)."""
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
        first = next((tr for tr in failed if not _equal(tr, item)), None)
        if first is None:
            continue
        prefix = _item_name(item, outputs)
        pair = _pair(first, item)
        relations = _value_relations(*pair, first, family) if pair else []
        match = next((rel for rel in relations if _holds_everywhere(rel, trials, item)), None)
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
    first = failed[0]
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
    if any(_pair(tr, None) is not None and np.any(~np.isfinite(_pair(tr, None)[1])) for tr in failed):
        return t("NaN or infinity appears where the expected values are finite.")
    return t("the values differ.")


def _argument_findings(trials: list[Trial]) -> list[Finding]:
    normal = [tr for tr in trials if not tr.passed and tr.raises and tr.error is None]
    other = [tr for tr in trials if not tr.passed and tr.raises and tr.error]
    found = []
    if normal:
        found.append(Finding("missing-raise", t("The argument check is missing: {labels}: the call must raise {error}, "
                                                "but yours returns normally.",
                                                labels="; ".join(f"“{tr.label}”" for tr in normal),
                                                error=normal[0].raises), tuple(tr.label for tr in normal)))
    if other and all(tr.error != "NotImplementedError" for tr in other):
        errors = sorted({tr.error for tr in other})
        found.append(Finding("wrong-exception", t("{labels}: yours raises {got} instead of {error}: check the "
                                                  "argument yourself and raise {error} with a message.",
                                                  labels="; ".join(f"“{tr.label}”" for tr in other),
                                                  got=", ".join(errors), error=other[0].raises),
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
    found = value_findings(trials, family, outputs)
    if not found and not any(tr.error for tr in failed):
        other = _shape_finding(failed) or _kind_finding(failed, outputs)
        found = [other] if other else []
    if family != "random" and ordinary:
        detail = " ".join(f.message for f in found) or _how(failed)
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
        return [Finding(f"{family}-only:{kind}", f"{lead} {detail}", labels)]
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
                               good=_layouts(good), bad=_layouts(bad), error=" or ".join(errors)),
                   tuple(tr.label for tr in failed))


def _layouts(layouts: list[tuple]) -> str:
    return " or ".join(str(layout[0]) if len(layout) == 1 else str(layout) for layout in layouts)


def describe(expected: Any, actual: Any, sizes: dict | None = None, atol: float = 1e-6, rtol: float = 1e-5,
             label: str = "") -> list[str]:
    """Return the relations that hold between one actual value and the expected one (for visible tests)."""
    trial = Trial(label, expected, actual, sizes=dict(sizes or {}), atol=atol, rtol=rtol)
    if difference(expected, actual, atol, rtol) is None:
        return []
    try:
        found = value_findings([trial]) or ([f] if (f := _shape_finding([trial])) else [])
    except (ValueError, TypeError, IndexError):
        return []
    return [f.message for f in found]
