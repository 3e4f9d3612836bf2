"""Returned values that lie, and hostile data from the child, stop at the plain-data boundary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnbook.grading import wire
from attnbook.grading.compare import difference
from attnbook.grading.drivers import to_plain


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)


class Sneaky(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), bool)


@pytest.mark.parametrize("value", [AlwaysEqual(), np.array([AlwaysEqual()], dtype=object), [AlwaysEqual()],
                                   {1: AlwaysEqual()}, np.array(["a"]), 1j, object()])
def test_values_that_are_not_plain_data_cannot_cross(value):
    with pytest.raises(wire.WireError):
        wire.encode(value)


def test_array_subclasses_and_tensors_arrive_as_plain_arrays_of_their_values():
    sent = wire.decode(wire.encode(np.arange(3.0).view(Sneaky)))
    assert type(sent) is np.ndarray and difference(np.arange(3.0), sent, 1e-9, 0) is None
    assert difference(np.zeros(3), sent, 1e-9, 0) is not None
    grad = to_plain(torch.ones(3, requires_grad=True) * 2)
    assert type(wire.decode(wire.encode(grad))) is np.ndarray


@pytest.mark.parametrize("actual, words", [(np.array([1.0, np.nan]), "NaN"), (np.zeros(3), "shape"),
                                           (np.array([1, 0]), None), (np.array([True, False]), "dtype"),
                                           ([1.0, 0.0], "list"), (float("nan"), "shape"), ("1", "str")])
def test_wrong_values_are_named(actual, words):
    diff = difference(np.array([1.0, 0.0]), actual, 1e-6, 1e-5)
    assert (diff is None) if words is None else (words in diff), diff


@pytest.mark.parametrize("payload", [
    {"__array__": "float64", "shape": [2], "data": "AAAA"},
    {"__array__": "float64", "shape": [-1], "data": ""},
    {"__array__": "float64", "shape": [10**9, 10**9], "data": ""},
    {"__array__": "object", "shape": [1], "data": "AAAAAAAAAAA="},
    {"__array__": "float64", "shape": [1], "data": "not base64!"},
    {"__pickle__": "gASVAAAAAAAAAAA="},
    {"__dict__": [[[1, 2], 3]]},
    {"a": 1, "b": 2},
])
def test_hostile_payloads_are_rejected(payload):
    with pytest.raises((wire.WireError, ValueError)):
        wire.decode(payload)


def test_deep_nesting_is_rejected():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(wire.WireError):
        wire.decode(deep)
