"""Relations between a student's values and the expected ones, as predicates on one check (a `Trial`).

Each `Relation` (a constant factor such as sqrt(d_k), two axes swapped, weights normalised over another axis,
right except on fully masked rows, ...) says whether it holds on a check and how to name it; `analyses.py`
names one for a family of checks only when it holds on every check of the family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ..i18n import t
from .compare import is_numeric


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


# ------------------------------------------------------------------------------------------ value helpers

def floats(value: Any) -> np.ndarray | None:
    """Return a numeric (non-bool) value as a float64 array, else None."""
    if not is_numeric(value):
        return None
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        return None
    return arr.astype(np.float64)


def close(a: np.ndarray, b: np.ndarray, tr: Trial) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=tr.atol, rtol=tr.rtol))


def pair(tr: Trial, item: int | None) -> tuple[np.ndarray, np.ndarray] | None:
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
    e, a = floats(exp), floats(act)
    return None if e is None or a is None else (e, a)


def equal(tr: Trial, item: int | None) -> bool:
    values = pair(tr, item)
    return values is not None and close(values[1], values[0], tr)


Values = tuple[np.ndarray, np.ndarray, Trial]


@dataclass(frozen=True)
class Relation:
    """A predicate on (expected, actual, trial) and the sentence that names it; `across`, when given, is a
    further predicate on the (expected, actual, trial) of every check of the family at once (a factor
    that changes from check to check needs two checks whose factors differ)."""

    kind: str
    holds: Callable[[np.ndarray, np.ndarray, Trial], bool]
    message: str
    across: Callable[[list[Values]], bool] | None = None


def holds_everywhere(rel: Relation, trials: list[Trial], item: int | None) -> bool:
    """Return True when `rel` holds on every trial (a trial whose call raised contradicts it)."""
    seen = []
    for tr in trials:
        values = pair(tr, item)
        try:
            if values is None or not rel.holds(values[0], values[1], tr):
                return False
        except (ValueError, FloatingPointError, ZeroDivisionError, IndexError, TypeError):
            return False
        seen.append((values[0], values[1], tr))
    try:
        return rel.across is None or bool(rel.across(seen))
    except (ValueError, FloatingPointError, ZeroDivisionError, IndexError, TypeError):
        return False


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


def _significant(e: np.ndarray) -> np.ndarray:
    """Return where `e` is not negligibly small next to its largest entry."""
    return np.abs(e) > 1e-9 * max(1.0, float(np.abs(e).max(initial=0.0)))


def _ratio(e: np.ndarray, a: np.ndarray) -> float | None:
    """Return r with a = r * e (one number for the whole array), or None when there is none."""
    if e.shape != a.shape or not np.all(np.isfinite(a)):
        return None
    big = _significant(e)
    if not big.any():
        return None
    r = float(np.median(a[big] / e[big]))
    return r if np.isfinite(r) and abs(r) > 1e-12 else None


def _proportional(e: np.ndarray, a: np.ndarray, tr: Trial, r: float | None) -> bool:
    return r is not None and bool(np.allclose(a, r * e, atol=tr.atol, rtol=1e-4))


def _factor_relations(e: np.ndarray, a: np.ndarray, tr: Trial) -> list[Relation]:
    """Relations 'a = f * e' proposed by one failed trial: named factors first, a constant, then any factor.

    A factor without a name needs two entries to show: any single number is a multiple of any other."""
    r = _ratio(e, a)
    if r is None or abs(r - 1) < 1e-9 or not _proportional(e, a, tr, r):
        return []
    found = []
    for name, value in _expressions(tr.sizes):
        if math.isclose(value, r, rel_tol=1e-4):
            found.append(_named_factor(name, tr))
    for name, value in CONSTANTS:
        if math.isclose(value, r, rel_tol=1e-6):
            found.append(Relation(f"factor:{name}", _fixed_factor(value),
                                  t("Your values are {factor} times the expected ones.", factor=name)))
    if _significant(e).sum() >= 2 and abs(r - 1) > 0.01:  # 1.001 "times" is a rounding, not a factor
        found.append(Relation("factor:constant", _unnamed_factor(r),
                              t("Your values are {factor} times the expected ones.", factor=f"{r:.3g}")))
        found.append(Relation("factor:varying", _unnamed_factor(None),
                              t("Your values are proportional to the expected ones, but scaled by a factor that "
                                "changes from check to check (e.g. {factor} in “{label}”): a scale or a "
                                "normalisation that depends on the input is off.", factor=f"{r:.3g}",
                                label=tr.label), across=_factors_differ))
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


def _unnamed_factor(value: float | None) -> Callable:
    """Right, or `value` (None: some factor) times the expected values with two or more entries to show it."""
    def holds(e, a, tr):
        if close(a, e, tr):
            return True
        r = _ratio(e, a) if value is None else value
        return _significant(e).sum() >= 2 and _proportional(e, a, tr, r)
    return holds


def _factors_differ(seen: list[Values]) -> bool:
    """Two checks that are wrong are off by different factors."""
    factors = [_ratio(e, a) for e, a, tr in seen if not close(a, e, tr)]
    return any(not math.isclose(f, factors[0], rel_tol=1e-3) for f in factors[1:])


def _row_factors(e: np.ndarray, a: np.ndarray, tr: Trial) -> list[tuple[float, int]] | None:
    """Return (factor, significant entries) of every row (last axis) that has a significant entry, when every
    row of a is a multiple of the same row of e (a right row has factor 1); None when one is not."""
    if e.ndim < 2 or e.shape[-1] < 2 or e.shape != a.shape or not np.all(np.isfinite(a)):
        return None
    found = []
    for re_, ra in zip(e.reshape(-1, e.shape[-1]), a.reshape(-1, a.shape[-1])):
        if np.allclose(ra, re_, atol=tr.atol, rtol=tr.rtol):
            found += [(1.0, int(_significant(re_).sum()))] if _significant(re_).any() else []
            continue
        r = _ratio(re_, ra)
        if not _proportional(re_, ra, tr, r):
            return None
        found.append((r, int(_significant(re_).sum())))
    return found


def _rows_differ(seen: list[Values]) -> bool:
    """Some wrong row shows its factor on two entries or more, and the factors are not all the same."""
    rows = [row for e, a, tr in seen for row in (_row_factors(e, a, tr) or [])]
    shown = any(n >= 2 and not math.isclose(r, 1.0, rel_tol=1e-4) for r, n in rows)
    return shown and any(not math.isclose(r, rows[0][0], rel_tol=1e-3) for r, _ in rows[1:])


def row_factor_relation() -> Relation:
    """Each row of the result is the expected row times a factor of its own."""
    return Relation("row-factor", lambda e, a, tr: _row_factors(e, a, tr) is not None,
                    t("Each row of your result is a multiple of the expected row, by a factor that differs from row "
                      "to row: the normalisation is off (for weights: every row must sum to 1)."), across=_rows_differ)


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
        if moved.shape == a.shape and close(a, moved, tr) and not close(a, e, tr):
            found.append(_axis_relation(name))
    return found


def _axis_relation(name: str) -> Relation:
    def holds(e, a, tr):
        moves = dict(_axis_moves(e.ndim))
        return name in moves and close(a, moves[name](e), tr)

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
    if not _right_off_zero_rows(e, a, tr) or close(a, e, tr):
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
        return close(a_, e_, tr_) or got == instead

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


def _weights(e: np.ndarray) -> bool:
    """The expected values look like attention weights: non-negative rows that sum to 1 (or 0 when fully masked)."""
    return e.ndim >= 1 and bool(np.all(e >= 0)) and _sums_to_one(e, -1)


def _masked_keys_weighted(e: np.ndarray, a: np.ndarray, tr: Trial) -> bool:
    """Weights: every wrong row has a key of expected weight 0 (a masked key) that got weight, and is not
    fully masked."""
    if e.shape != a.shape or not _weights(e) or not np.all(np.isfinite(a)):
        return False
    rows_e, rows_a = e.reshape(-1, e.shape[-1]), a.reshape(-1, a.shape[-1])
    for re_, ra in zip(rows_e, rows_a):
        if np.allclose(ra, re_, atol=tr.atol, rtol=tr.rtol):
            continue
        masked = (re_ == 0) & (np.abs(ra) > tr.atol)
        if not masked.any() or np.all(re_ == 0):
            return False
    return True


def masked_keys_relation() -> Relation:
    """Keys the mask hides get weight."""
    return Relation("masked-keys", _masked_keys_weighted,
                    t("Masked keys get weight in your result: a masked key must get weight exactly 0 (its score must "
                      "be -inf before the softmax, not 0)."))


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

def value_relations(e: np.ndarray, a: np.ndarray, tr: Trial, masked: bool = False) -> list[Relation]:
    """Every relation one failed trial suggests, most specific first. Relations that speak of masks are
    proposed only for checks with a mask (`masked`)."""
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
        if masked:
            rel = _zero_rows_relation(e, a, tr)
            found += [rel] if rel else []
            found += [masked_keys_relation()] if _masked_keys_weighted(e, a, tr) else []
        if _row_factors(e, a, tr) is not None and not _factor_relations(e, a, tr):
            found.append(row_factor_relation())
        rel = _not_finite_relation(e, a, tr)
        found += [rel] if rel else []
    return found
