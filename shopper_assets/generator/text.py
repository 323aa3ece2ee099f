"""Vectorised text building: many equal-length strings at once from numpy byte matrices.

Lines share their layout (constant JSON keys, fixed-width ids and timestamps), so a row template
is laid down in one pass and the variable parts are written as 4- or 8-byte words from lookup
tables; Arrow then sees the matrix as a string array without copying.
"""

from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HOUR_MS = 3_600_000

# lookup tables for text: 4 digits (or 3 digits and a "Z") as one little-endian uint32, "MM:SS." as uint64
_D4 = np.frombuffer(b"".join(f"{i:04d}".encode() for i in range(10_000)), dtype=np.uint32)
_D4_BYTES = _D4.view(np.uint8).reshape(-1, 4)
_MS_Z = np.frombuffer(b"".join(f"{i:03d}Z".encode() for i in range(1000)), dtype=np.uint32)
_MMSS = np.frombuffer(b"".join(f"{s // 60:02d}:{s % 60:02d}.__".encode() for s in range(3600)), dtype=np.uint64)


def _put(out: np.ndarray, col: int, dtype: type, values: np.ndarray) -> None:
    """Write fixed-size words into byte columns col.. of every row (unaligned views are fine)."""
    out[:, col : col + np.dtype(dtype).itemsize].view(dtype)[:, 0] = values


def put_digits(out: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    """Zero-padded decimal digits of non-negative ints into columns col..col+width, four at a time."""
    v = values.astype(np.int64, copy=True)
    end = col + width
    while end > col:
        w = min(4, end - col)
        if w == 4:
            _put(out, end - 4, np.uint32, _D4[v % 10_000])
        else:
            out[:, end - w : end] = _D4_BYTES[v % 10_000][:, 4 - w :]
        v //= 10_000
        end -= w


def put_timestamps(out: np.ndarray, col: int, t_ms: np.ndarray) -> None:
    """ISO-8601 UTC text with milliseconds (``2026-11-20T13:45:07.123Z``, 24 bytes) into columns
    col..col+24; the date-and-hour part comes from a small table of the hours spanned."""
    if t_ms.shape[0] == 0:
        return
    hour = t_ms // HOUR_MS
    first, last = int(hour.min()), int(hour.max())
    stamps = np.frombuffer(
        b"".join(
            datetime.datetime.fromtimestamp(h * 3600, tz=datetime.UTC).strftime("%Y-%m-%dT%H:").encode()
            for h in range(first, last + 1)
        ),
        dtype=np.uint8,
    ).reshape(-1, 14)
    out[:, col : col + 14] = stamps[0] if first == last else stamps[hour - first]
    ms = t_ms - hour * HOUR_MS
    _put(out, col + 14, np.uint64, _MMSS[ms // 1000])  # "MM:SS.__"
    _put(out, col + 20, np.uint32, _MS_Z[ms % 1000])  # "mmmZ" over the "__"


def fixed_width(pieces: list, n: int) -> pa.StringArray:
    """Build n equal-length strings from pieces: constant bytes, (n, k) byte matrices,
    ("digits", values, width) and ("time", t_ms). Constants are laid down in one pass."""
    widths = []
    for p in pieces:
        if isinstance(p, bytes):
            widths.append(len(p))
        elif isinstance(p, np.ndarray):
            widths.append(p.shape[1])
        else:
            widths.append(p[2] if p[0] == "digits" else 24)
    width = sum(widths)
    template = np.zeros(width, dtype=np.uint8)
    col = 0
    for p, w in zip(pieces, widths, strict=True):
        if isinstance(p, bytes):
            template[col : col + w] = np.frombuffer(p, dtype=np.uint8)
        col += w
    out = np.empty((n, width), dtype=np.uint8)
    out[:] = template
    col = 0
    for p, w in zip(pieces, widths, strict=True):
        if isinstance(p, np.ndarray):
            out[:, col : col + w] = p
        elif isinstance(p, tuple):
            if p[0] == "digits":
                put_digits(out, col, p[1], w)
            else:
                put_timestamps(out, col, p[1])
        col += w
    if (n + 1) * width >= 2**31:
        raise ValueError("fixed_width: more than 2 GB of text in one array")
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(out)])


def money(cents: np.ndarray) -> pa.StringArray:
    """Currency amounts with exactly two decimals, e.g. 12.50."""
    dollars = pc.cast(pa.array(cents // 100), pa.string())
    frac = fixed_width([b".", ("digits", cents % 100, 2)], cents.shape[0])
    return pc.binary_join_element_wise(dollars, frac, "")
