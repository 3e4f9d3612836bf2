"""Helpers for the visible tests in the exercise notebooks: checks that say what is wrong, in words."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_shape(value: Any, shape: tuple, what: str) -> None:
    """Fail with a message naming `what` unless `value` is an array of exactly `shape`."""
    if not hasattr(value, "shape"):
        raise AssertionError(f"{what} should be an array of shape {shape}, but it is a {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        raise AssertionError(f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)}")


def check_close(actual: Any, expected: Any, what: str, hint: str = "", atol: float = 1e-6) -> None:
    """Fail with the first differing entry of `what` (and a hint) unless it equals `expected` within `atol`."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    check_shape(actual, expected.shape, what)
    if np.any(np.isnan(actual)):
        raise AssertionError(f"{what} contains NaN. {hint}".strip())
    bad = ~np.isclose(actual, expected, atol=atol, rtol=1e-5)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(f"{what} is wrong at index {idx}: got {actual[idx]:.6g}, expected {expected[idx]:.6g}. "
                             f"{hint}".strip())


def check_equal(actual: Any, expected: Any, what: str, hint: str = "") -> None:
    """Fail with both values and a hint unless `actual == expected`."""
    if actual != expected:
        raise AssertionError(f"{what} is {actual!r}, expected {expected!r}. {hint}".strip())


def check_raises(exception: type, fn, *args, what: str = "", **kwargs) -> None:
    """Fail unless `fn(*args, **kwargs)` raises `exception`."""
    try:
        fn(*args, **kwargs)
    except exception:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{what or fn.__name__} should raise {exception.__name__}, "
                             f"but raised {type(exc).__name__}: {exc}") from None
    raise AssertionError(f"{what or fn.__name__} should raise {exception.__name__}, but returned normally")
