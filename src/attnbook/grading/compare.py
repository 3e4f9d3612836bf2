"""Compare a returned value with the reference's, and name the difference in words a student can act on."""

from __future__ import annotations

from typing import Any

import numpy as np


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def difference(expected: Any, actual: Any, atol: float, rtol: float, where: str = "the result") -> str | None:
    """Return None when `actual` matches `expected` within tolerance, else a sentence saying how it differs."""
    if isinstance(expected, np.ndarray) or (isinstance(expected, (int, float)) and not isinstance(expected, bool)):
        return _numeric_difference(expected, actual, atol, rtol, where)
    if _kind(expected) != _kind(actual):
        return f"{where} is a {_kind(actual)}, expected a {_kind(expected)}"
    if isinstance(expected, (tuple, list)):
        if len(expected) != len(actual):
            return f"{where} has {len(actual)} items, expected {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            diff = difference(e, a, atol, rtol, f"item {i} of {where}")
            if diff:
                return diff
        return None
    if isinstance(expected, dict):
        if set(expected) != set(actual):
            return f"{where} has keys {sorted(actual, key=repr)}, expected {sorted(expected, key=repr)}"
        for key in expected:
            diff = difference(expected[key], actual[key], atol, rtol, f"{where}[{key!r}]")
            if diff:
                return diff
        return None
    return None if expected == actual else f"{where} is {actual!r}, expected {expected!r}"


def _numeric_difference(expected: Any, actual: Any, atol: float, rtol: float, where: str) -> str | None:
    if isinstance(actual, bool) or not isinstance(actual, (np.ndarray, int, float)):
        return f"{where} is a {_kind(actual)}, expected a {_kind(expected)}"
    exp, act = np.asarray(expected), np.asarray(actual)
    if exp.shape != act.shape:
        return f"{where} has shape {act.shape}, expected {exp.shape}"
    if exp.dtype == bool or act.dtype == bool:
        if exp.dtype != act.dtype:
            return f"{where} has dtype {act.dtype}, expected {exp.dtype}"
        wrong = int(np.sum(exp != act))
        return None if wrong == 0 else f"{where} differs in {wrong} of {exp.size} entries"
    exp, act = exp.astype(np.float64), act.astype(np.float64)
    nan_exp, nan_act = np.isnan(exp), np.isnan(act)
    if np.any(nan_act & ~nan_exp):
        return f"{where} contains NaN where a number was expected (an unstable exponential or a 0/0?)"
    close = np.isclose(act, exp, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return None
    idx = np.unravel_index(np.argmin(close), close.shape) if exp.ndim else ()
    return (f"{where} differs in {int(np.sum(~close))} of {exp.size} entries; "
            f"e.g. at index {tuple(int(i) for i in idx)} it is {act[idx]:.6g}, expected {exp[idx]:.6g}")
