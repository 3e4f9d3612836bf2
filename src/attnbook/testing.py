"""Helpers for the visible tests in the exercise notebooks: checks that say what is wrong, in words.

Messages are in the notebook's language (`attnbook.i18n`): the templates below, and the `what` and `hint`
strings a test cell passes, are looked up in the package's catalogue.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .i18n import t, translate


def _hinted(message: str, hint: str) -> str:
    return t("{message} {hint}", message=message, hint=translate(hint)) if hint else message


def check_shape(value: Any, shape: tuple, what: str) -> None:
    """Fail with a message naming `what` unless `value` is an array of exactly `shape`."""
    if not hasattr(value, "shape"):
        raise AssertionError(t("{what} should be an array of shape {shape}, but it is a {kind}",
                               what=translate(what), shape=shape, kind=type(value).__name__))
    if tuple(value.shape) != tuple(shape):
        raise AssertionError(t("{what} has shape {got}, expected {expected}",
                               what=translate(what), got=tuple(value.shape), expected=tuple(shape)))


def check_close(actual: Any, expected: Any, what: str, hint: str = "", atol: float = 1e-6) -> None:
    """Fail with the first differing entry of `what` (and a hint) unless it equals `expected` within `atol`."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    check_shape(actual, expected.shape, what)
    if np.any(np.isnan(actual)):
        raise AssertionError(_hinted(t("{what} contains NaN.", what=translate(what)), hint))
    bad = ~np.isclose(actual, expected, atol=atol, rtol=1e-5)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(_hinted(t("{what} is wrong at index {index}: got {got}, expected {expected}.",
                                       what=translate(what), index=idx, got=f"{actual[idx]:.6g}",
                                       expected=f"{expected[idx]:.6g}"), hint))


def check_equal(actual: Any, expected: Any, what: str, hint: str = "") -> None:
    """Fail with both values and a hint unless `actual == expected`."""
    if actual != expected:
        raise AssertionError(_hinted(t("{what} is {got}, expected {expected}.", what=translate(what),
                                       got=repr(actual), expected=repr(expected)), hint))


def check_raises(exception: type, fn, *args, what: str = "", **kwargs) -> None:
    """Fail unless `fn(*args, **kwargs)` raises `exception`."""
    try:
        fn(*args, **kwargs)
    except exception:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(t("{what} should raise {expected}, but raised {got}: {error}",
                               what=translate(what) if what else fn.__name__, expected=exception.__name__,
                               got=type(exc).__name__, error=exc)) from None
    raise AssertionError(t("{what} should raise {expected}, but returned normally",
                           what=translate(what) if what else fn.__name__, expected=exception.__name__))
