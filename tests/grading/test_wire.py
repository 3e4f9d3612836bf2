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


# ---- Issue 9: values the parent cannot write or compare are refused at the wire ------------------------

@pytest.mark.parametrize("payload, words", [
    ("\ud800 lone surrogate", "not valid Unicode"),
    ({"__tuple__": ["ok", "\udcff"]}, "not valid Unicode"),
    (10**400, "outside the range"),
    (-(10**309), "outside the range"),
    ("x" * (wire.MAX_STRING + 1), "characters"),
    (list(range(wire.MAX_VALUES + 1)), "more than"),
    ({"__dict__": [[i, [i]] for i in range(wire.MAX_VALUES // 2)]}, "more than"),
    ({"__dict__": [[1, 2, 3]]}, "malformed"),
])
def test_values_the_parent_could_not_write_or_compare_are_not_plain_data(payload, words):
    with pytest.raises(wire.WireError, match=words):
        wire.decode(payload)


def test_integers_within_the_float_range_still_compare():
    assert wire.decode(10**300) == 10**300
    assert difference(1e300, wire.decode(10**300), 1e-6, 1e-5) is None


@pytest.mark.parametrize("line", [
    b"[" + b"[]," * 500_000 + b"[]]", b'{"call": 0, "value": [' + b"0," * 500_000 + b"0]}", b"not json", b"[1, 2]",
    b'{"a": ' * 100_000], ids=["lists", "numbers", "junk", "not an object", "nesting"])
def test_a_record_that_could_hold_too_many_values_or_is_not_an_object_is_refused_unparsed(line):
    with pytest.raises(wire.WireError):
        wire.record(line)


def test_messages_from_the_child_are_cut_short_and_printable():
    from attnbook.grading.runner import _outcome

    outcome = _outcome({"call": 0, "error": "\ud800\x00\x1b[31m" + "x" * 10**6, "type": "E" * 10**5})
    assert len(outcome.error) <= wire.MESSAGE_CHARS and len(outcome.error_type) <= 100
    assert "\\ud800\\x00\\x1b[31m" in outcome.error
    outcome.error.encode("utf-8")  # valid Unicode: every page and file can hold it


def test_names_are_escaped_one_to_one():
    names = ["ren\udce9e", "ren\\xe9e", "a\nb", "a\\nb", "\u202eevil", "plain", "中文"]
    shown = [wire.printable(n) for n in names]
    assert len(set(shown)) == len(names)
    assert shown[0] == "ren\\xe9e" and shown[1] == "ren\\\\xe9e" and shown[4] == "\\u202eevil" and shown[6] == "中文"


def test_no_character_can_make_a_write_fail(tmp_path):
    from attnbook.grading.runner import write_atomic

    write_atomic(tmp_path / "page.html", "a lone surrogate \ud800 and a NUL \x00")
    assert (tmp_path / "page.html").read_text(encoding="utf-8") == "a lone surrogate \\ud800 and a NUL \x00"
