"""Split landed gzip JSONL files into Arrow tables of lines, vectorised.

A landing file is decompressed once (isal, which releases the GIL so files decompress in
parallel) and cut at newline bytes with numpy; the lines become one Arrow string array over a
single buffer, so no Python object is created per line. A file with bytes that are not UTF-8
keeps every line: valid ones as text, invalid ones escaped in ``line`` with their exact bytes in
``raw_bytes``.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from isal import igzip

LINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.dictionary(pa.int32(), pa.string())),
        ("line_number", pa.int64()),
        ("line", pa.large_string()),
        ("raw_bytes", pa.large_binary()),
    ]
)


def decompress(payload: bytes, name: str) -> bytes:
    """gunzip a landed file; plain ``.jsonl`` is accepted as is."""
    if not name.endswith(".gz"):
        return payload
    try:
        return igzip.decompress(payload)
    except Exception as exc:  # isal raises zlib-style errors
        raise ValueError(f"landing file {name} is not valid gzip: {exc}") from exc


def lines_table(name: str, text: bytes) -> pa.Table:
    """Every line of one decompressed file, numbered from 1 (LINE_SCHEMA).

    Lines end at ``\\n``; a ``\\r`` before it is part of the terminator; a last line without a
    newline still counts. Nothing is skipped, empty lines included.
    """
    buf = np.frombuffer(text, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 0x0A)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    if len(buf) == 0 or buf[-1] == 0x0A:
        starts, ends = starts[:-1], ends[:-1]
    n = len(starts)
    if n == 0:
        return LINE_SCHEMA.empty_table()
    terminator = np.zeros(len(buf), dtype=bool)
    terminator[newlines] = True
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 0x0D)
    terminator[ends[has_cr] - 1] = True
    ends = ends - has_cr
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=offsets[1:])
    body = pa.py_buffer(buf[~terminator]) if terminator.any() else pa.py_buffer(text)
    numbers = pa.array(np.arange(1, n + 1, dtype=np.int64))
    source = pa.DictionaryArray.from_arrays(np.zeros(n, dtype=np.int32), pa.array([name], pa.string()))
    strings = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), body)
    try:
        strings.validate(full=True)
    except pa.ArrowInvalid:
        binary = pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), body])
        return _with_invalid_utf8(source, numbers, binary)
    return pa.table([source, numbers, strings, pa.nulls(n, pa.large_binary())], schema=LINE_SCHEMA)


def _with_invalid_utf8(source: pa.Array, numbers: pa.Array, binary: pa.Array) -> pa.Table:
    """Text where a line decodes; escaped text plus the exact bytes where it does not."""
    lines = pa.table({"b": binary})
    with duckdb.connect() as con:
        con.register("lines", lines)
        decoded = con.sql(
            "SELECT coalesce(try(decode(b)), CAST(b AS VARCHAR)) AS line, "
            "CASE WHEN try(decode(b)) IS NULL THEN b END AS raw_bytes FROM lines"
        ).to_arrow_table()
    return pa.table(
        [source, numbers, decoded["line"].cast(pa.large_string()), decoded["raw_bytes"].cast(pa.large_binary())],
        schema=LINE_SCHEMA,
    )
