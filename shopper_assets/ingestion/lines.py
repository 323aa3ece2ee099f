"""Split landed gzip JSONL files into Arrow tables of lines, vectorised and without copying text.

A landing file is decompressed once (isal, which releases the GIL so files decompress in
parallel) and cut at newline bytes with numpy. The lines become an Arrow string-view array whose
views point into the decompressed buffer itself, so neither a Python object nor a copy of the
text is made per line. A file with bytes that are not UTF-8 keeps every line: valid ones as
text, invalid ones escaped in ``line`` with their exact bytes in ``raw_bytes``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
from isal import igzip

LINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.dictionary(pa.int32(), pa.string())),
        ("line_number", pa.int64()),
        ("line", pa.string_view()),
        ("raw_bytes", pa.binary_view()),
    ]
)

_INLINE = 12  # Arrow keeps strings of up to 12 bytes inside the view itself
_BUFFER_SPAN = 1 << 30  # views address buffers with int32 offsets: one buffer per GiB of text


def decompress(payload: bytes, name: str) -> bytes:
    """gunzip a landed file; plain ``.jsonl`` is accepted as is."""
    if not name.endswith(".gz"):
        return payload
    try:
        return igzip.decompress(payload)
    except Exception as exc:  # isal raises zlib-style errors
        raise ValueError(f"landing file {name} is not valid gzip: {exc}") from exc


@dataclass(frozen=True)
class Damage:
    """What of a damaged gzip file could not be read (see ``decompress_recovering``)."""

    error: str
    compressed_bytes: int  # the file's size
    unread_bytes: int  # compressed bytes after the damage that could not be decoded (0: the file is cut short)
    decoded_bytes: int  # text recovered before the damage

    def describe(self, name: str, lines: int, last_line_cut: bool) -> str:
        """The quarantine detail of the file: what was recovered and, honestly, what was lost."""
        if self.decoded_bytes == 0:
            return f"landing file {name} is not valid gzip ({self.error}): nothing could be read"
        complete = lines - last_line_cut
        recovered = f"{complete:,} complete lines recovered from its first {self.decoded_bytes:,} bytes of text" + (
            " and a last line cut by the damage (quarantined on its own)" if last_line_cut else ""
        )
        if "data check" in self.error:
            lost = "its text does not match its checksum: some recovered lines may be altered (each is still checked)"
        elif self.unread_bytes == 0:
            lost = (
                "the file ends early (cut short): lines after the cut are not in it, and how many is unknown "
                "(the gzip trailer that records the size is in the missing part)"
            )
        else:
            read = self.compressed_bytes - self.unread_bytes
            estimate = round(self.unread_bytes * lines / read) if read else 0
            lost = (
                f"{self.unread_bytes:,} of its {self.compressed_bytes:,} compressed bytes after the damage could not "
                f"be read: about {estimate:,} lines at the rate of the part read"
            )
        return f"landing file {name} is damaged ({self.error}): {recovered}; {lost}"


_RECOVERY_CHUNK = 1 << 16
_RECOVERY_STEP = 256  # after a failed chunk, it is fed again in pieces this small to keep what precedes the damage


def decompress_recovering(payload: bytes, name: str) -> tuple[bytes, Damage | None]:
    """``decompress``, except that a damaged gzip file gives everything before the damage, and what was lost.

    A file cut short (a crashed writer, a partial upload) still holds every complete line before the cut;
    a corrupt block loses the rest of its member. Only failed files take this slower path (zlib, chunk
    by chunk, every gzip member in turn).
    """
    try:
        return decompress(payload, name), None
    except ValueError:
        pass
    out: list[bytes] = []
    at = 0
    while at < len(payload):
        inflater = zlib.decompressobj(wbits=31)
        while at < len(payload) and not inflater.eof:
            chunk = payload[at : at + _RECOVERY_CHUNK]
            before = inflater.copy()
            try:
                out.append(inflater.decompress(chunk))
            except zlib.error as exc:
                damaged_at = at + _feed_until_error(before, chunk, out)
                return b"".join(out), Damage(str(exc), len(payload), len(payload) - damaged_at, sum(map(len, out)))
            at += len(chunk)
        if not inflater.eof:  # every byte read, and the stream wants more: cut short
            out.append(inflater.flush())
            return b"".join(out), Damage("the file ends inside its gzip stream", len(payload), 0, sum(map(len, out)))
        at -= len(inflater.unused_data)  # the next member starts where this one ended
    return b"".join(out), None


def _feed_until_error(inflater, chunk: bytes, out: list[bytes]) -> int:
    """Feed ``chunk`` in small pieces, keeping their text, up to the piece that fails; returns its offset."""
    for i in range(0, len(chunk), _RECOVERY_STEP):
        try:
            out.append(inflater.decompress(chunk[i : i + _RECOVERY_STEP]))
        except zlib.error:
            return i
    return len(chunk)


def line_bounds(text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end byte offsets of every line, numbered from 1.

    Lines end at ``\\n``; a ``\\r`` before it is part of the terminator; a last line without a
    newline still counts. Nothing is skipped, empty lines included.
    """
    buf = np.frombuffer(text, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 0x0A)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    if len(buf) == 0 or buf[-1] == 0x0A:
        starts, ends = starts[:-1], ends[:-1]
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 0x0D)
    return starts, ends - has_cr


def _views(text: bytes, starts: np.ndarray, ends: np.ndarray, view_type: pa.DataType) -> pa.Array:
    """A string- or binary-view array over ``text`` (zero-copy: the views point into it)."""
    n = len(starts)
    lengths = (ends - starts).astype(np.int32)
    views = np.zeros((n, 4), dtype=np.int32)
    views[:, 0] = lengths
    view_bytes = views.view(np.uint8).reshape(n, 16)
    buf = np.frombuffer(text, dtype=np.uint8)
    long = lengths > _INLINE
    view_bytes[long, 4:8] = buf[starts[long, None] + np.arange(4)]  # the 4-byte prefix
    short = np.flatnonzero(~long)
    if len(short):  # inline the bytes; positions past the line's end are zero
        at = starts[short, None] + np.arange(_INLINE)
        inside = np.arange(_INLINE)[None, :] < lengths[short, None]
        view_bytes[short, 4:16] = np.where(inside, buf[np.minimum(at, max(len(buf) - 1, 0))], 0)
    buffer_index = starts[long] // _BUFFER_SPAN
    views[long, 2] = buffer_index
    views[long, 3] = starts[long] - buffer_index * _BUFFER_SPAN
    whole = pa.py_buffer(text)
    data = [whole.slice(k * _BUFFER_SPAN) for k in range(max(1, -(-len(text) // _BUFFER_SPAN)))]
    return pa.Array.from_buffers(view_type, n, [None, pa.py_buffer(views), *data])


def lines_table(name: str, text: bytes) -> pa.Table:
    """Every line of one decompressed file, numbered from 1 (LINE_SCHEMA)."""
    starts, ends = line_bounds(text)
    n = len(starts)
    if n == 0:
        return LINE_SCHEMA.empty_table()
    numbers = pa.array(np.arange(1, n + 1, dtype=np.int64))
    source = pa.DictionaryArray.from_arrays(np.zeros(n, dtype=np.int32), pa.array([name], pa.string()))
    strings = _views(text, starts, ends, pa.string_view())
    try:
        strings.validate(full=True)
    except pa.ArrowInvalid:
        return _with_invalid_utf8(source, numbers, _views(text, starts, ends, pa.binary_view()))
    return pa.table([source, numbers, strings, pa.nulls(n, pa.binary_view())], schema=LINE_SCHEMA)


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
        [source, numbers, decoded["line"].cast(pa.string_view()), decoded["raw_bytes"].cast(pa.binary_view())],
        schema=LINE_SCHEMA,
    )


def join_groups(keys: np.ndarray, data: pa.Array) -> list[tuple[int, pa.Buffer]]:
    """Runs of equal ``keys`` (rows sorted by key) with their ``data`` values back to back, zero-copy.

    ``data`` is a large_binary array (each value already ends with its newline); returns
    (key, bytes of the run) per run, in order.
    """
    if len(keys) == 0:
        return []
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.append(starts[1:], len(keys))
    offsets = np.frombuffer(data.buffers()[1], dtype=np.int64)[data.offset : data.offset + len(data) + 1]
    body = data.buffers()[2]
    return [
        (int(keys[s]), body.slice(int(offsets[s]), int(offsets[e] - offsets[s])))
        for s, e in zip(starts, ends, strict=True)
    ]
