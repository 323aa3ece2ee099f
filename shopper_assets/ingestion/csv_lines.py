"""CSV lines in DuckDB SQL: fields, header names, ISO dates. Vectorised over a relation of lines.

A line is one record: a quoted field may hold commas and doubled quotes, not a line break (a
record split over two lines is two broken lines). Shared by the REES46 import, the ad-spend
validation and the ad-spend drop splitter, so they all read a line the same way.
"""

from __future__ import annotations

_FIELD = r'("(?:[^"]|"")*"|[^,"]*),'  # one field and its comma; quotes doubled inside quotes
BOM = "chr(65279)"  # U+FEFF, which some tools write before the header


def csv_fields_sql(line: str) -> str:
    """SQL for the fields of a CSV line as a list (quotes removed, doubled quotes undone); NULL when
    its quoting is broken. Lines without a quote take the fast path (a plain split)."""
    return (
        f"CASE WHEN NOT contains({line}, '\"') THEN string_split({line}, ',') "
        f"WHEN regexp_full_match({line} || ',', '(?:{_FIELD})*') THEN list_transform("
        f"regexp_extract_all({line} || ',', '{_FIELD}', 1), "
        f"lambda x: CASE WHEN starts_with(x, '\"') THEN replace(x[2:-2], '\"\"', '\"') ELSE x END) END"
    )


def header_names_sql(line: str) -> str:
    """SQL for the column names of a header line: without a leading BOM, trimmed, lower-case."""
    return f"list_transform({csv_fields_sql(f'ltrim({line}, {BOM})')}, lambda x: lower(trim(x)))"


def iso_date_sql(text: str) -> str:
    """SQL for a ``YYYY-MM-DD`` text as a DATE; NULL for any other spelling or an impossible date."""
    shape = f"regexp_full_match({text}, '\\d{{4}}-\\d{{2}}-\\d{{2}}')"
    return f"CASE WHEN {shape} THEN CAST(try_strptime({text}, '%Y-%m-%d') AS DATE) END"


def blank_sql(line: str) -> str:
    """SQL: the (text) line holds nothing but whitespace."""
    return f"regexp_full_match({line}, '\\s*')"
