"""Helpers for the visible tests in the exercise notebooks: checks that say what is wrong, in words.

Messages are in the notebook's language (`attnbook.i18n`): the templates below, and the `what` and `hint`
strings a test cell passes, are looked up in the package's catalogue. When values differ, the same analyses the grader runs on hidden checks say how they relate (a constant
factor such as sqrt(d_k), a transposed result, weights normalised over another axis, ...), on the
visible case only. Pass `sizes` to name the quantities a factor may come from: `sizes={"d_k": 4}`, and
`masked=True` for weights under a mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .grading.analyses import describe
from .i18n import sentences, t, translate


def check_shape(value: Any, shape: tuple, what: str) -> None:
    """Fail with a message naming `what` unless `value` is an array of exactly `shape`."""
    what = translate(what)
    if not hasattr(value, "shape"):
        raise AssertionError(t("{what} should be an array of shape {shape}, but it is a {kind}", what=what,
                               shape=tuple(shape), kind=type(value).__name__))
    if tuple(value.shape) != tuple(shape):
        raise AssertionError(t("{what} has shape {got}, expected {expected}", what=what, got=tuple(value.shape),
                               expected=tuple(shape)))


def _as_array(value: Any) -> np.ndarray:
    detach = getattr(value, "detach", None)  # a torch tensor
    return np.asarray(detach().cpu().numpy() if detach else value)


def check_close(actual: Any, expected: Any, what: str, hint: str = "", atol: float = 1e-6,
                sizes: dict | None = None, masked: bool = False) -> None:
    """Fail with the first differing entry of `what`, how the values relate, and a hint, unless `actual`
    equals `expected` within `atol`. Pass `masked=True` when `expected` are weights under a mask (zero
    where a key is masked): only then may the hint speak of masked keys."""
    what, hint = translate(what), translate(hint)
    expected = np.asarray(expected, dtype=float)
    raw = _as_array(actual)
    if not hasattr(actual, "shape") and raw.dtype == object:
        raise AssertionError(sentences(t("{what} should be an array of shape {shape}, but it is a {kind}.", what=what,
                                     shape=expected.shape, kind=type(actual).__name__), hint))
    actual = raw.astype(float)
    related = describe(expected, actual, sizes, atol=atol, label=what, masked=masked)
    if actual.shape != expected.shape:
        raise AssertionError(sentences(t("{what} has shape {got}, expected {expected}.", what=what, got=actual.shape,
                                     expected=expected.shape), *related, hint))
    if np.any(np.isnan(actual)):
        raise AssertionError(sentences(t("{what} contains NaN.", what=what), *related, hint))
    bad = ~np.isclose(actual, expected, atol=atol, rtol=1e-5)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(sentences(t("{what} is wrong at index {index}: got {got}, expected {expected}.", what=what,
                                     index=idx, got=f"{actual[idx]:.6g}", expected=f"{expected[idx]:.6g}"),
                                   *related, hint))


def check_equal(actual: Any, expected: Any, what: str, hint: str = "") -> None:
    """Fail with both values and a hint unless `actual == expected`."""
    what, hint = translate(what), translate(hint)
    if actual != expected:
        raise AssertionError(sentences(t("{what} is {got}, expected {expected}.", what=what, got=repr(actual),
                                     expected=repr(expected)), *describe(expected, actual, label=what), hint))


def check_raises(exception: type, fn, *args, what: str = "", **kwargs) -> None:
    """Fail unless `fn(*args, **kwargs)` raises `exception`."""
    what = translate(what) if what else fn.__name__
    try:
        fn(*args, **kwargs)
    except exception:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(t("{what} should raise {expected}, but raised {got}: {error}. Check the argument "
                               "yourself and raise {expected} with a message.", what=what, expected=exception.__name__,
                               got=type(exc).__name__, error=exc)) from None
    raise AssertionError(t("{what} should raise {expected}, but returned normally: the argument check is missing.",
                           what=what, expected=exception.__name__))
