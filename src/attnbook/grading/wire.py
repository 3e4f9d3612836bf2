"""Plain data across the sandbox boundary: JSON with NumPy arrays as typed base64 blobs, never pickle."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np

ALLOWED_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64"}
MAX_ARRAY_ELEMENTS = 10_000_000


class WireError(ValueError):
    """Raised when data from the child is not plain, well-formed data."""


def encode(value: Any) -> Any:
    """Return a JSON-ready form of numbers, strings, lists, tuples, dicts and NumPy arrays."""
    if isinstance(value, np.ndarray):
        if value.dtype.name not in ALLOWED_DTYPES:
            raise WireError(f"arrays of dtype {value.dtype} cannot be returned")
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
    raise WireError(f"values of type {type(value).__name__} cannot be returned")


def decode(obj: Any, depth: int = 0) -> Any:
    """Inverse of `encode`, validating every node; raises WireError on anything else."""
    if depth > 20:
        raise WireError("data nested too deeply")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, list):
        return [decode(v, depth + 1) for v in obj]
    if not isinstance(obj, dict) or len(obj) not in (1, 3):
        raise WireError("malformed data")
    if "__array__" in obj:
        dtype, shape, data = obj.get("__array__"), obj.get("shape"), obj.get("data")
        if dtype not in ALLOWED_DTYPES or not isinstance(shape, list) or not isinstance(data, str):
            raise WireError("malformed array")
        if not all(isinstance(n, int) and n >= 0 for n in shape) or math.prod(shape) > MAX_ARRAY_ELEMENTS:
            raise WireError("array shape is invalid or too large")
        raw = base64.b64decode(data, validate=True)
        if len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
            raise WireError("array data does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    ((key, val),) = obj.items()
    if key == "__bool__" and isinstance(val, bool):
        return val
    if key == "__float__" and val in ("nan", "inf", "-inf"):
        return float(val)
    if key == "__tuple__" and isinstance(val, list):
        return tuple(decode(v, depth + 1) for v in val)
    if key == "__dict__" and isinstance(val, list):
        return {_hashable(decode(k, depth + 1)): decode(v, depth + 1) for k, v in val}
    raise WireError("malformed data")


def _hashable(key: Any) -> Any:
    if isinstance(key, (int, float, str, bool)) or key is None:
        return key
    raise WireError("dictionary keys must be numbers or strings")


def dumps(value: Any) -> str:
    """Return `value` encoded as one line of JSON."""
    return json.dumps(encode(value), allow_nan=False)


def loads(text: str) -> Any:
    """Return the value of one line of JSON written by `dumps`."""
    return decode(json.loads(text))
