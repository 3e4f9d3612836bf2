"""Plain data across the sandbox boundary: JSON with NumPy arrays as typed base64 blobs, never pickle.

The parent decodes what a child sends under fixed bounds, so that no value can make it slow, big or
crash later: a record is refused before parsing when it could hold too many values, and after parsing
every string must be valid Unicode, every integer must fit a float, every array its declared shape. Why a
value was refused is said in the current language (a student reads it).
"""

from __future__ import annotations

import base64
import json
import math
import sys
import unicodedata
from collections import Counter
from typing import Any

import numpy as np

from ..i18n import t

ALLOWED_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64"}
MAX_ARRAY_ELEMENTS = 10_000_000
MAX_VALUES = 100_000       # numbers, strings, lists and dicts in one record (arrays count once)
MAX_STRING = 100_000       # characters of one returned string
MAX_DEPTH = 20
MAX_SAME_HASH = 8       # dictionary keys that may share one hash value
MESSAGE_CHARS = 500        # an error message or label kept in results, feedback and reports


class WireError(ValueError):
    """Raised when data from the child is not plain, well-formed data."""


def encode(value: Any) -> Any:
    """Return a JSON-ready form of numbers, strings, lists, tuples, dicts and NumPy arrays."""
    if isinstance(value, np.ndarray):
        if value.dtype.name not in ALLOWED_DTYPES:
            raise WireError(t("arrays of dtype {dtype} cannot be returned", dtype=value.dtype))
        arr = np.array(value, order="C", copy=True, subok=False)
        return {"__array__": arr.dtype.name, "shape": list(arr.shape),
                "data": base64.b64encode(arr.tobytes()).decode("ascii")}
    if isinstance(value, (bool, np.bool_)):
        return {"__bool__": bool(value)}
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else {"__float__": repr(f)}
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    raise WireError(t("values of type {type} cannot be returned", type=type(value).__name__))


class _Budget:
    """Counts the values decoded from one record."""

    def __init__(self, limit: int = MAX_VALUES):
        self.left = limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise WireError(t("more than {n} values", n=MAX_VALUES))


def decode(obj: Any, depth: int = 0, budget: _Budget | None = None) -> Any:
    """Inverse of `encode`, validating every node; raises WireError on anything else."""
    budget = budget or _Budget()
    budget.spend()
    if depth > MAX_DEPTH:
        raise WireError(t("data nested too deeply"))
    if obj is None or isinstance(obj, (bool, float)):
        return obj
    if isinstance(obj, int):
        if abs(obj) > sys.float_info.max:
            raise WireError(t("an integer outside the range of floating-point numbers"))
        return obj
    if isinstance(obj, str):
        return _valid_string(obj)
    if isinstance(obj, list):
        return [decode(v, depth + 1, budget) for v in obj]
    if not isinstance(obj, dict) or len(obj) not in (1, 3):
        raise WireError(t("malformed data"))
    if "__array__" in obj:
        return _array(obj)
    ((key, val),) = obj.items()
    if key == "__bool__" and isinstance(val, bool):
        return val
    if key == "__float__" and val in ("nan", "inf", "-inf"):
        return float(val)
    if key == "__tuple__" and isinstance(val, list):
        return tuple(decode(v, depth + 1, budget) for v in val)
    if key == "__dict__" and isinstance(val, list):
        if not all(isinstance(kv, list) and len(kv) == 2 for kv in val):
            raise WireError(t("malformed dictionary"))
        pairs = [(_hashable(decode(k, depth + 1, budget)), decode(v, depth + 1, budget)) for k, v in val]
        # Keys that share one hash (ints k * (2**61 - 1) all hash to 0) make every dict and set of them cost
        # O(n^2) in the parent: refuse them before any is built (equal keys such as 1, 1.0, True may share).
        if max(Counter(hash(k) for k, _ in pairs).values(), default=0) > MAX_SAME_HASH:
            raise WireError(t("malformed dictionary"))
        return dict(pairs)
    raise WireError(t("malformed data"))


def _valid_string(text: str) -> str:
    if len(text) > MAX_STRING:
        raise WireError(t("a string of {n} characters (at most {limit})", n=len(text), limit=MAX_STRING))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise WireError(t("a string that is not valid Unicode (a lone surrogate)")) from None
    return text


def _array(obj: dict) -> np.ndarray:
    dtype, shape, data = obj.get("__array__"), obj.get("shape"), obj.get("data")
    if dtype not in ALLOWED_DTYPES or not isinstance(shape, list) or not isinstance(data, str):
        raise WireError(t("malformed array"))
    if len(shape) > 32 or not all(type(n) is int and 0 <= n <= MAX_ARRAY_ELEMENTS for n in shape) \
            or math.prod(shape) > MAX_ARRAY_ELEMENTS:
        raise WireError(t("array shape is invalid or too large"))
    if len(data) != 4 * math.ceil(math.prod(shape) * np.dtype(dtype).itemsize / 3):
        raise WireError(t("array data does not match its shape"))
    raw = base64.b64decode(data, validate=True)
    if len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
        raise WireError(t("array data does not match its shape"))
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _hashable(key: Any) -> Any:
    if isinstance(key, (int, float, str, bool)) or key is None:
        return key
    raise WireError(t("dictionary keys must be numbers or strings"))


def record(line: bytes) -> dict:
    """Parse one line a child sent into a JSON object, or raise WireError. A line that could hold more
    than MAX_VALUES values is refused unparsed, so parsing costs a small multiple of its length."""
    if line.count(b",") + line.count(b"[") + line.count(b"{") > 4 * MAX_VALUES:
        raise WireError(t("more than {n} values", n=MAX_VALUES))
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        raise WireError(t("not JSON")) from None
    if not isinstance(obj, dict):
        raise WireError(t("not a JSON object"))
    return obj


def printable(text: str) -> str:
    """Return `text` with everything a page, a spreadsheet or a terminal could misread escaped: control,
    format and separator characters, lone surrogates (undecodable file-name bytes show as \\xNN) and the
    backslash itself (so two different names never look the same)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def message(value: Any, limit: int = MESSAGE_CHARS) -> str:
    """Return a message from untrusted data as a short, valid, printable string (cut at `limit`)."""
    text = value if isinstance(value, str) else repr(value)
    text = printable(text[: limit + 1].replace("\n", " "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dumps(value: Any) -> str:
    """Return `value` encoded as one line of JSON."""
    return json.dumps(encode(value), allow_nan=False)


def loads(text: str) -> Any:
    """Return the value of one line of JSON written by `dumps`."""
    return decode(json.loads(text))
