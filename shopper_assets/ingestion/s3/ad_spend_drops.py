"""Ad-spend CSV objects dropped under ``incoming/ad_spend/`` → ``landing/ad_spend/date=D/<name>.csv``.

An ad platform's export may span several days: its rows are split by their ``date`` field (found
by the header's column name), each day's rows written after the object's header line into that
day's folder, in their original order and with their exact bytes. One DuckDB query, no Python per
row. The ``ad_spend`` asset then validates every landed file as it validates any other.

* Never lost: a row whose date cannot be read (no such column, broken quoting, not a real
  YYYY-MM-DD date) goes to the day of the object's LastModified, where the asset quarantines it
  (``invalid_header``, ``invalid_csv``, ``invalid_date`` or ``date_outside_partition``). An object
  that is not valid gzip is landed as is on that day (``unreadable_file``). Blank lines are not rows
  and are not landed; a header-only or empty object lands nothing.
* Idempotent: the landed name comes from the object's key only (``s3drop-<key>-<key hash>.csv``),
  the same in every day folder, so the same object handled again rewrites the same files; a
  corrected object dropped again under the same key replaces them.
* Ordered: names keep the key's text, so when producers use keys that sort in arrival order (as
  the drop sensor requires anyway), a later object's file also sorts later in a day folder, and
  its rows supersede the earlier object's rows of the same (date, campaign, ad).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from shopper_assets.ingestion.csv_lines import blank_sql, csv_fields_sql, header_names_sql, iso_date_sql
from shopper_assets.ingestion.lines import join_groups, lines_table

KEPT_KEY_CHARS = 120  # of the key in the landed name (file names stay well under 255 bytes)
_EPOCH_DAY = date(1970, 1, 1)


def ad_spend_landing_name(key: str, prefix: str) -> str:
    """Deterministic landing file name (``.csv``) of one dropped object: its key below ``prefix``, made
    safe, then a hash of the whole key (two keys that read alike stay apart)."""
    relative = key[len(prefix) :] if key.startswith(prefix) else key.rsplit("/", 1)[-1]
    base = re.sub(r"\.csv(\.gz)?$", "", relative, flags=re.IGNORECASE)
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", base)[:KEPT_KEY_CHARS] or "object"
    return f"s3drop-{base}-{hashlib.blake2b(key.encode(), digest_size=5).hexdigest()}.csv"


def split_by_day(con: duckdb.DuckDBPyConnection, name: str, text: bytes, fallback: date) -> list[tuple[date, bytes]]:
    """The (decompressed) CSV ``text`` as one file per day: the header line, then that day's rows.

    Rows whose date cannot be read go to ``fallback``. Returns (day, file bytes), days ascending.
    """
    lines = lines_table(name, text)
    if lines.num_rows < 2:
        return []
    con.register("_ad_drop", lines)
    try:
        out = con.sql(f"""
            WITH header AS (
                SELECT list_position({header_names_sql("CAST(line AS VARCHAR)")}, 'date') AS i
                FROM _ad_drop WHERE line_number = 1 AND raw_bytes IS NULL
            ),
            rows AS (
                SELECT line_number, coalesce(raw_bytes, encode(CAST(line AS VARCHAR))) AS b,
                       trim(({csv_fields_sql("CAST(line AS VARCHAR)")})[header.i]) AS date_text
                FROM _ad_drop LEFT JOIN header ON true
                WHERE line_number >= 2 AND NOT (raw_bytes IS NULL AND {blank_sql("CAST(line AS VARCHAR)")})
            )
            SELECT CAST(coalesce({iso_date_sql("date_text")}, DATE '{fallback:%Y-%m-%d}')
                        - DATE '{_EPOCH_DAY:%Y-%m-%d}' AS BIGINT) AS day,
                   b || '\\x0A'::BLOB AS b
            FROM rows ORDER BY day, line_number
        """).to_arrow_table()
    finally:
        con.unregister("_ad_drop")
    first = lines.slice(0, 1).to_pylist()[0]
    header = (first["raw_bytes"] if first["raw_bytes"] is not None else first["line"].encode()) + b"\n"
    data = out["b"].combine_chunks().cast(pa.large_binary())
    days = out["day"].combine_chunks().to_numpy()
    return [
        (_EPOCH_DAY + timedelta(days=offset), header + payload.to_pybytes())
        for offset, payload in join_groups(days, data)
    ]
