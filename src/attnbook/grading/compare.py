"""Compare a returned value with the reference's, and name the difference in words a student can act on.

With `reveal=False` (the per-student random cases) a message never shows an expected value: it says how
many entries differ and by how much at most, the shapes, the dtypes or the keys, but not what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..i18n import t


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    return type(value).__name__


def is_numeric(value: Any) -> bool:
    """Return True for arrays and numbers (bools excluded), which are compared within a tolerance."""
    return isinstance(value, np.ndarray) or _kind(value) == "number"


def difference(expected: Any, actual: Any, atol: float, rtol: float, where: str | None = None,
               reveal: bool = True) -> str | None:
    """Return None when `actual` matches `expected` within tolerance, else a sentence saying how it differs."""
    where = where or t("the result")
    if is_numeric(expected):
        return _numeric_difference(expected, actual, atol, rtol, where, reveal)
    if _kind(expected) != _kind(actual):
        return t("{where} is a {got}, expected a {expected}", where=where, got=_kind(actual), expected=_kind(expected))
    if isinstance(expected, (tuple, list)):
        if len(expected) != len(actual):
            if reveal or isinstance(expected, tuple):
                return t("{where} has {got} items, expected {expected}", where=where, got=len(actual),
                         expected=len(expected))
            return t("{where} has {got} items, which is not the expected number", where=where, got=len(actual))
        for i, (e, a) in enumerate(zip(expected, actual)):
            diff = difference(e, a, atol, rtol, t("item {i} of {where}", i=i, where=where), reveal)
            if diff:
                return diff
        return None
    if isinstance(expected, dict):
        if set(expected) != set(actual):
            missing, extra = sorted(set(expected) - set(actual), key=repr), sorted(set(actual) - set(expected), key=repr)
            return t("{where} has keys {got}: missing {missing}, not expected {extra}", where=where,
                     got=sorted(actual, key=repr), missing=missing or "none", extra=extra or "none")
        for key in expected:
            diff = difference(expected[key], actual[key], atol, rtol, f"{where}[{key!r}]", reveal)
            if diff:
                return diff
        return None
    if expected == actual:
        return None
    if reveal:
        return t("{where} is {got}, expected {expected}", where=where, got=repr(actual), expected=repr(expected))
    return t("{where} is {got}, which is not the expected value", where=where, got=repr(actual))


def _float_if_huge(value: Any) -> Any:
    """Return a Python int too large for int64 as a float (the wire admits ints within the float range)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > np.iinfo(np.int64).max:
        return float(value)
    return value


def _numeric_difference(expected: Any, actual: Any, atol: float, rtol: float, where: str, reveal: bool) -> str | None:
    if not is_numeric(actual) and not (isinstance(actual, (bool, np.bool_))):
        return t("{where} is a {got}, expected a {expected}", where=where, got=_kind(actual), expected=_kind(expected))
    exp, act = np.asarray(expected), np.asarray(_float_if_huge(actual))
    if exp.shape != act.shape:
        return t("{where} has shape {got}, expected {expected}", where=where, got=act.shape, expected=exp.shape)
    if (exp.dtype == bool) != (act.dtype == bool):
        return t("{where} has dtype {got}, expected {expected}", where=where, got=act.dtype, expected=exp.dtype)
    if exp.dtype == bool:
        wrong = int(np.sum(exp != act))
        return None if wrong == 0 else t("{where} differs in {n} of {size} entries", where=where, n=wrong, size=exp.size)
    if not np.issubdtype(act.dtype, np.number):
        return t("{where} has dtype {got}, expected {expected}", where=where, got=act.dtype, expected=exp.dtype)
    exp, act = exp.astype(np.float64), act.astype(np.float64)
    if np.any(~np.isfinite(act) & np.isfinite(exp)):
        return t("{where} contains NaN or infinity where a finite number was expected (an exp that overflows, "
                 "or a 0/0?)", where=where)
    close = np.isclose(act, exp, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return None
    wrong = int(np.sum(~close))
    if reveal:
        idx = np.unravel_index(np.argmin(close), close.shape) if exp.ndim else ()
        return t("{where} differs in {n} of {size} entries; e.g. at index {index} it is {got}, expected {expected}",
                 where=where, n=wrong, size=exp.size, index=tuple(int(i) for i in idx), got=f"{act[idx]:.6g}",
                 expected=f"{exp[idx]:.6g}")
    if exp.size >= 4:
        gap = float(np.nanmax(np.where(close, 0.0, np.abs(act - exp))))
        return t("{where} differs in {n} of {size} entries (largest difference {gap})", where=where, n=wrong,
                 size=exp.size, gap=f"{gap:.3g}")
    return t("{where} differs in {n} of {size} entries", where=where, n=wrong, size=exp.size)
