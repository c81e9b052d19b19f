"""What crosses between the grader and a grading child: JSON and raw numeric array bytes, never pickle.

A *frame* is ``b"BPK1"``, the header length (4 bytes) and payload length (8 bytes), a JSON header, and a payload
of raw array bytes. The header's ``"arrays"`` entry describes each array as ``[dtype, shape, offset, nbytes]``
(the same fields a ``.npy`` header holds, in JSON instead of a Python literal). A *value dict* (a case going in, a
function's outputs coming back) is encoded as JSON where each value is ``{"v": scalar}`` (bool, int, float, str,
None) or ``{"a": "<array key>"}``.

Decoding what a child sent (``parse_frames`` + ``decode_values``) trusts nothing: sizes are capped before anything
is allocated, dtypes come from a fixed allow-list of little-endian bools, integers and floats (no object,
structured, string or void dtypes can even be named), each array's byte count must equal its shape times its
item size, and ``np.frombuffer`` copies the bytes into a fresh plain ``numpy.ndarray``. An ndarray subclass or an
object with a rigged ``__eq__`` in the child reaches the grader as plain numbers or not at all. (JSON + raw bytes
rather than ``np.savez``: the same safety, and parsing 16 cases costs the grader ~0.2 ms instead of ~20 ms.)
"""
from __future__ import annotations

import json
import math
import os
import struct
from typing import Any

import numpy as np

MAGIC = b"BPK1"
_PREFIX = struct.Struct("<4sIQ")
MAX_HEADER = 1 << 20            # bytes of JSON per frame
MAX_OUTPUT = 64 << 20           # bytes a child may send in total (the "huge output" limit)
MAX_STRING = 10_000             # characters in one string value
NUMERIC_KINDS = "biuf"          # bool, int, uint, float
ALLOWED_DTYPES = {np.dtype(t).newbyteorder("<").str: np.dtype(t).newbyteorder("<")
                  for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                            np.uint64, np.float16, np.float32, np.float64)}
MAX_DIMS = 32


class ProtocolError(ValueError):
    """A child sent something that is not a well-formed frame or value: it counts as the submission's error."""


# ----------------------------------------------------------------------------------------------- values
def encode_values(values: dict, prefix: str, arrays: dict) -> dict:
    """Turn ``{name: value}`` into JSON-able ``{name: {"v": ...} | {"a": key}}``; arrays go into ``arrays``.

    Raises TypeError for anything that is not a number, bool, string, None or numeric array (e.g. an object
    array), naming the value.
    """
    if not isinstance(values, dict):
        raise TypeError(f"expected a dict of values, got {type(values).__name__}")
    out = {}
    for i, (name, value) in enumerate(values.items()):
        if not isinstance(name, str):
            raise TypeError(f"value names must be strings, got {type(name).__name__}")
        if value is None or type(value) in (bool, int, float, str):
            if type(value) is str and len(value) > MAX_STRING:
                value = value[:MAX_STRING]
            out[name] = {"v": value}
            continue
        if isinstance(value, np.generic) and value.dtype.kind in NUMERIC_KINDS:
            out[name] = {"v": value.item()}
            continue
        arr = np.array(value, copy=True, subok=False)   # a subclass leaves as a plain ndarray copy
        if arr.dtype.kind not in NUMERIC_KINDS or arr.dtype.fields is not None:
            raise TypeError(f"{name}: expected numbers, got {type(value).__name__} with dtype {arr.dtype}")
        key = f"{prefix}{i}"
        arrays[key] = arr
        out[name] = {"a": key}
    return out


def decode_values(spec: Any, arrays: dict) -> dict:
    """Inverse of ``encode_values`` for untrusted input: only the allowed scalars and the validated arrays."""
    if not isinstance(spec, dict):
        raise ProtocolError("values must be a JSON object")
    out = {}
    for name, item in spec.items():
        if not isinstance(item, dict) or len(item) != 1:
            raise ProtocolError(f"{name!r}: malformed value")
        if "a" in item:
            if item["a"] not in arrays:
                raise ProtocolError(f"{name!r}: refers to a missing array")
            out[name] = arrays[item["a"]]
        elif "v" in item:
            value = item["v"]
            if not (value is None or type(value) in (bool, int, float, str)):
                raise ProtocolError(f"{name!r}: a {type(value).__name__} is not a plain value")
            if type(value) is int and abs(value) > 2**63:
                value = float(value)
            if type(value) is str:
                value = value[:MAX_STRING]
            out[name] = value
        else:
            raise ProtocolError(f"{name!r}: malformed value")
    return out


def nonfinite_counts(values: dict) -> dict[str, int]:
    """``{name: number of NaN/inf entries}`` for the values that have any (arrays and floats)."""
    counts = {}
    for name, value in values.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            bad = int(np.count_nonzero(~np.isfinite(value)))
        elif isinstance(value, float):
            bad = int(not math.isfinite(value))
        else:
            bad = 0
        if bad:
            counts[name] = bad
    return counts


# ----------------------------------------------------------------------------------------------- arrays
def pack_arrays(arrays: dict) -> tuple[dict, bytes]:
    """``(manifest, payload)``: each array's ``[dtype, shape, offset, nbytes]`` and all their bytes, C order."""
    manifest, chunks, offset = {}, [], 0
    for key, arr in arrays.items():
        arr = np.require(arr, dtype=arr.dtype.newbyteorder("<"), requirements="C")   # keeps 0-d arrays 0-d
        data = arr.tobytes()
        manifest[key] = [arr.dtype.str, list(arr.shape), offset, len(data)]
        chunks.append(data)
        offset += len(data)
    return manifest, b"".join(chunks)


def unpack_arrays(manifest, payload: bytes, max_bytes: int = MAX_OUTPUT) -> dict[str, np.ndarray]:
    """Arrays from an untrusted manifest and payload; raise ProtocolError on anything but plain numbers."""
    if not isinstance(manifest, dict) or len(manifest) > 10_000:
        raise ProtocolError("the array list is not a JSON object of reasonable size")
    if len(payload) > max_bytes:
        raise ProtocolError(f"the arrays add up to more than {max_bytes / 2**20:g} MB")
    out, total = {}, 0
    for key, entry in manifest.items():
        try:
            dtype_str, shape, offset, nbytes = entry
            dtype = ALLOWED_DTYPES[dtype_str]
            if not (isinstance(shape, list) and len(shape) <= MAX_DIMS and
                    all(type(n) is int and 0 <= n for n in shape) and type(offset) is int and type(nbytes) is int):
                raise ValueError
        except (TypeError, ValueError, KeyError):
            raise ProtocolError(f"{key!r}: not an array of numbers ({str(entry)[:80]})") from None
        count = math.prod(shape)
        total += nbytes
        if total > max_bytes:      # entries may overlap: bound what the copies below allocate
            raise ProtocolError(f"the arrays add up to more than {max_bytes / 2**20:g} MB")
        if count * dtype.itemsize != nbytes or offset < 0 or offset + nbytes > len(payload):
            raise ProtocolError(f"{key!r}: shape {tuple(shape)} does not match its {nbytes} bytes")
        out[key] = np.frombuffer(payload, dtype=dtype, count=count, offset=offset).reshape(shape).copy()
    return out


# ----------------------------------------------------------------------------------------------- frames
def make_frame(header: dict, arrays: dict | None = None) -> bytes:
    """One frame: prefix, JSON header (with the array manifest under "arrays"), array bytes."""
    manifest, payload = pack_arrays(arrays or {})
    head = json.dumps({**header, "arrays": manifest}, allow_nan=True).encode()
    return _PREFIX.pack(MAGIC, len(head), len(payload)) + head + payload


def write_frame(fd: int, header: dict, arrays: dict | None = None) -> None:
    """Write a whole frame to a file descriptor (a pipe), looping over short writes."""
    data = memoryview(make_frame(header, arrays))
    while data:
        data = data[os.write(fd, data):]


def read_frame(fd: int, limit: int = MAX_OUTPUT) -> tuple[dict, dict]:
    """Read one frame from a trusted pipe (the grader's job for the child); raise EOFError at the end."""
    prefix = _read_exact(fd, _PREFIX.size)
    magic, nhead, npay = _PREFIX.unpack(prefix)
    if magic != MAGIC or nhead > MAX_HEADER or npay > limit:
        raise ProtocolError("bad frame")
    header = json.loads(_read_exact(fd, nhead))
    return header, unpack_arrays(header.pop("arrays", {}), _read_exact(fd, npay), limit)


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def parse_frames(data: bytes, max_bytes: int = MAX_OUTPUT) -> tuple[list[tuple[dict, dict]], str]:
    """Split bytes a child sent into frames; return ``(frames, problem)`` where problem is "" when all was well.

    Parsing stops at the first malformed frame (so everything before it still counts) and the problem says why.
    """
    frames, pos, used = [], 0, 0
    while pos < len(data):
        if len(data) - pos < _PREFIX.size:
            return frames, "the result stream ended in the middle of a message"
        magic, nhead, npay = _PREFIX.unpack_from(data, pos)
        if magic != MAGIC or nhead > MAX_HEADER:
            return frames, "the result stream held bytes that are not a grader message"
        end = pos + _PREFIX.size + nhead + npay
        if end > len(data):
            return frames, "the result stream ended in the middle of a message"
        used += npay
        if used > max_bytes:
            return frames, f"the outputs add up to more than {max_bytes / 2**20:g} MB"
        try:
            header = json.loads(data[pos + _PREFIX.size: pos + _PREFIX.size + nhead])
            if not isinstance(header, dict):
                raise ProtocolError("a message header is not a JSON object")
            arrays = unpack_arrays(header.pop("arrays", {}), data[pos + _PREFIX.size + nhead: end], max_bytes)
        except (ProtocolError, ValueError, RecursionError) as exc:
            return frames, f"a malformed message ({exc})"
        frames.append((header, arrays))
        pos = end
    return frames, ""
