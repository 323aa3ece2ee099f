"""Validation of one day of landed ad-spend CSV files: one vectorised DuckDB query, no Python per row.

``validate_day`` gives every line of every file exactly one outcome, so the day reconciles exactly:

* line 1 of a file is its header (a leading BOM, CRLF line ends and ``.csv.gz`` are fine); columns
  are found by name (trimmed, any case, any order; extra columns are ignored);
* a line holding only whitespace is a *blank line*: not data, not quarantined, counted per file
  (``FileCounts.blank_lines``);
* every other line (a *data line*) is either a row of ``lake.ad_spend`` or a row of
  ``lake.ad_spend_quarantine`` with a reason of ``AdSpendQuarantineReason`` and a ``detail`` that
  names the field and value;
* a problem of the whole file that no data line can carry is one quarantine row numbered 0 (the
  file), counted as one line of it: a file that cannot be decompressed (``unreadable_file``), a
  file without any line, or a bad header in a file without data lines (``invalid_header``).

So per file ``lines = kept + quarantined`` (``lines``: data lines, plus 1 for a line-0 row).

Rules, first match wins: ``invalid_utf8``; ``invalid_header`` (a contract column missing or
repeated, every data line of the file); ``invalid_csv`` (broken quoting, another number of fields
than the header); ``missing_required_field`` (empty date, campaign_id, ad_id, impressions, clicks
or spend; an empty currency means USD); ``invalid_date`` (not a real YYYY-MM-DD date);
``date_outside_partition`` (a date other than the folder's day); ``invalid_number`` (impressions or
clicks not an integer, spend not a plain decimal); ``invalid_value`` (a number out of range, spend
with more than ``SPEND_DECIMALS`` significant decimals, a currency that is not three letters);
``negative_value``. Fields are trimmed of spaces; a currency is stored upper-case.

Repeats: among the valid rows of a (date, campaign_id, ad_id), the row of the file that sorts last
by name, then its last line, wins; the others are quarantined as ``superseded``, with the winner's
``file:line`` in ``detail``. So a corrected report, landed as a later file, replaces the earlier one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from shopper_assets.contract.ad_spend import (
    AD_SPEND_COLUMNS,
    AD_SPEND_QUARANTINE_COLUMNS,
    CSV_COLUMNS,
    SPEND_DECIMALS,
    SPEND_SQL_TYPE,
    AdSpendQuarantineReason,
)
from shopper_assets.contract.events import DEFAULT_CURRENCY
from shopper_assets.ingestion.csv_lines import blank_sql, csv_fields_sql, header_names_sql, iso_date_sql
from shopper_assets.ingestion.lines import decompress, lines_table

R = AdSpendQuarantineReason
REQUIRED = ("date", "campaign_id", "ad_id", "impressions", "clicks", "spend")  # an empty currency is USD
COUNTS = ("impressions", "clicks")
SPEND_DIGITS = int(re.fullmatch(r"DECIMAL\((\d+),\d+\)", SPEND_SQL_TYPE)[1]) - SPEND_DECIMALS  # before the point
_INTEGER = r"[+-]?\d+"
_DECIMAL = r"[+-]?(\d+(\.\d*)?|\.\d+)"
_SHOWN = 80  # characters of a value repeated in ``detail``


def arrow_schema(columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    """The Arrow schema of a contract table (the SQL types of contract/ad_spend.py)."""
    types = {"DATE": pa.date32(), "VARCHAR": pa.string(), "BIGINT": pa.int64()}
    fields = []
    for name, sql_type in columns:
        if m := re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", sql_type):
            fields.append(pa.field(name, pa.decimal128(int(m[1]), int(m[2]))))
        else:
            fields.append(pa.field(name, types[sql_type]))
    return pa.schema(fields)


ROWS_SCHEMA = arrow_schema(AD_SPEND_COLUMNS)
QUARANTINE_SCHEMA = arrow_schema(AD_SPEND_QUARANTINE_COLUMNS)


@dataclass(frozen=True)
class FileCounts:
    lines: int  # data lines, plus 1 when the whole file is one quarantine row (line 0)
    blank_lines: int
    kept: int
    quarantined: int


@dataclass(frozen=True)
class ValidatedDay:
    """One day's outcome: the rows for ``lake.ad_spend``, those for its quarantine, counts per file."""

    day: date
    rows: pa.Table  # AD_SPEND_COLUMNS, typed as declared
    quarantine: pa.Table  # AD_SPEND_QUARANTINE_COLUMNS
    by_file: dict[str, FileCounts] = field(default_factory=dict)

    @property
    def files(self) -> int:
        return len(self.by_file)

    @property
    def lines(self) -> int:
        return sum(c.lines for c in self.by_file.values())

    @property
    def blank_lines(self) -> int:
        return sum(c.blank_lines for c in self.by_file.values())

    @property
    def kept(self) -> int:
        return self.rows.num_rows

    @property
    def quarantined(self) -> int:
        return self.quarantine.num_rows

    @property
    def quarantined_by_reason(self) -> dict[str, int]:
        counts = pc.value_counts(self.quarantine["reason"]).to_pylist() if self.quarantine.num_rows else []
        return {c["values"]: c["counts"] for c in sorted(counts, key=lambda c: c["values"])}

    @property
    def spend_total(self) -> float:
        """Σ spend of the kept rows in currency units (whatever their currencies)."""
        return float(pc.sum(self.rows["spend"]).as_py() or 0) if self.rows.num_rows else 0.0


def validate_day(con: duckdb.DuckDBPyConnection, day: date, files: dict[str, bytes]) -> ValidatedDay:
    """Validate the ad-spend files landed for ``day`` (name → bytes; ``.csv`` or ``.csv.gz``).

    ``con`` is any DuckDB connection (the lake session's); the query runs on it and leaves nothing
    behind. See the module doc for the rules.
    """
    tables, whole_file = [], []
    for name in sorted(files):
        try:
            text = decompress(files[name], name)
        except ValueError as exc:
            whole_file.append((name, R.UNREADABLE_FILE.value, str(exc), None))
            continue
        table = lines_table(name, text)
        if table.num_rows == 0:
            whole_file.append((name, R.INVALID_HEADER.value, "empty file: no header line", None))
            continue
        tables.append(table.set_column(0, "source_file", table["source_file"].cast(pa.string())))
    if not tables and not whole_file:
        return ValidatedDay(day, ROWS_SCHEMA.empty_table(), QUARANTINE_SCHEMA.empty_table())
    lines = pa.concat_tables(tables) if tables else _EMPTY_LINES
    problems = pa.table(
        list(zip(*whole_file, strict=True)) if whole_file else [[], [], [], []],
        schema=pa.schema([(c, pa.string()) for c in ("source_file", "reason", "detail", "line")]),
    )
    con.register("_ad_lines", lines)
    con.register("_ad_file_problems", problems)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ad_classified AS {_classified_sql(day)}")
        rows = con.sql(_kept_sql()).to_arrow_table().cast(ROWS_SCHEMA)
        quarantine = con.sql(_quarantine_sql(day)).to_arrow_table().cast(QUARANTINE_SCHEMA)
        lines_by_file = con.execute(_line_counts_sql()).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS _ad_classified")
        con.unregister("_ad_lines")
        con.unregister("_ad_file_problems")
    kept = _per_file(rows["_source_file"])
    quarantined = _per_file(quarantine["_source_file"])
    by_file = {
        name: FileCounts(lines=n, blank_lines=blank, kept=kept.get(name, 0), quarantined=quarantined.get(name, 0))
        for name, n, blank in lines_by_file
    }
    return ValidatedDay(day, rows, quarantine, by_file)


_EMPTY_LINES = pa.table(
    {"source_file": [], "line_number": [], "line": [], "raw_bytes": []},
    schema=pa.schema(
        [("source_file", pa.string()), ("line_number", pa.int64()), ("line", pa.string()), ("raw_bytes", pa.binary())]
    ),
)


def _per_file(column: pa.ChunkedArray) -> dict[str, int]:
    return {c["values"]: c["counts"] for c in pc.value_counts(column).to_pylist()} if len(column) else {}


def _shown(value: str) -> str:
    """A value quoted for ``detail`` (long values cut)."""
    return f"'''' || left({value}, {_SHOWN}) || ''''"


def _rules(day: date) -> list[tuple[str, R, str]]:
    """(condition, reason, detail SQL) in the order they are tried; see the module doc."""
    return [
        ("raw_bytes IS NOT NULL", R.INVALID_UTF8, "'line is not valid UTF-8'"),
        ("header_problem IS NOT NULL", R.INVALID_HEADER, "header_problem"),
        ("f IS NULL", R.INVALID_CSV, "'broken quoting'"),
        (
            "len(f) <> n_fields",
            R.INVALID_CSV,
            "'expected ' || n_fields || ' fields as in the header, found ' || len(f)",
        ),
        *[(f"v_{c} = ''", R.MISSING_REQUIRED_FIELD, f"'{c} is empty'") for c in REQUIRED],
        ("spend_date IS NULL", R.INVALID_DATE, f"'date ' || {_shown('v_date')} || ' is not a YYYY-MM-DD date'"),
        (
            f"spend_date <> DATE '{day:%Y-%m-%d}'",
            R.DATE_OUTSIDE_PARTITION,
            f"'date ' || v_date || ' is not the day of its folder, {day:%Y-%m-%d}'",
        ),
        *[
            (
                f"NOT regexp_full_match(v_{c}, '{_INTEGER}')",
                R.INVALID_NUMBER,
                f"'{c} ' || {_shown(f'v_{c}')} || ' is not an integer'",
            )
            for c in COUNTS
        ],
        (
            f"NOT regexp_full_match(v_spend, '{_DECIMAL}')",
            R.INVALID_NUMBER,
            f"'spend ' || {_shown('v_spend')} || ' is not a decimal'",
        ),
        *[
            (f"{c} IS NULL", R.INVALID_VALUE, f"'{c} ' || {_shown(f'v_{c}')} || ' is out of range (64-bit integer)'")
            for c in COUNTS
        ],
        (
            f"spend_digits > {SPEND_DIGITS}",
            R.INVALID_VALUE,
            f"'spend ' || {_shown('v_spend')} || ' is out of range (more than {SPEND_DIGITS} digits before the point)'",
        ),
        (
            f"spend_decimals > {SPEND_DECIMALS}",
            R.INVALID_VALUE,
            f"'spend ' || {_shown('v_spend')} || ' has more than {SPEND_DECIMALS} decimals'",
        ),
        ("spend IS NULL", R.INVALID_NUMBER, f"'spend ' || {_shown('v_spend')} || ' is not a decimal'"),  # a safety net
        *[(f"{c} < 0", R.NEGATIVE_VALUE, f"'{c} ' || v_{c} || ' is negative'") for c in (*COUNTS, "spend")],
        (
            "v_currency <> '' AND NOT regexp_full_match(v_currency, '[A-Za-z]{3}')",
            R.INVALID_VALUE,
            f"'currency ' || {_shown('v_currency')} || ' is not a three-letter ISO 4217 code'",
        ),
    ]


def _integer_sql(value: str) -> str:
    """An integer text as BIGINT; NULL for another spelling or out of range."""
    return f"CASE WHEN regexp_full_match({value}, '{_INTEGER}') THEN try_cast({value} AS BIGINT) END"


def _header_problem_sql() -> str:
    """Per file, what is wrong with its header (NULL when nothing): unreadable, a column missing or repeated."""
    missing = ", ".join(f"CASE WHEN list_position(names, '{c}') IS NULL THEN '{c}' END" for c in CSV_COLUMNS)
    repeated = ", ".join(
        f"CASE WHEN len(list_filter(names, lambda x: x = '{c}')) > 1 THEN '{c}' END" for c in CSV_COLUMNS
    )
    return f"""CASE WHEN header_bytes IS NOT NULL THEN 'header line is not valid UTF-8'
                    WHEN names IS NULL THEN 'header line has broken quoting'
                    WHEN concat_ws(', ', {missing}) <> '' THEN 'header lacks ' || concat_ws(', ', {missing})
                    WHEN concat_ws(', ', {repeated}) <> '' THEN 'header repeats ' || concat_ws(', ', {repeated})
               END"""


def _classified_sql(day: date) -> str:
    """Every data line with its values, typed fields and ``problem`` (reason, detail), NULL when valid;
    plus, per file without data lines but with a bad header, one row with ``line_number`` 0."""
    positions = ", ".join(f"list_position(names, '{c}') AS i_{c}" for c in CSV_COLUMNS)
    values = ", ".join(f"trim(f[i_{c}]) AS v_{c}" for c in CSV_COLUMNS)
    problem = (
        "CASE "
        + " ".join(
            f"WHEN {cond} THEN struct_pack(reason := '{reason.value}', detail := {detail})"
            for cond, reason, detail in _rules(day)
        )
        + " END"
    )
    return f"""
        WITH lines AS (
            SELECT source_file, line_number, CAST(line AS VARCHAR) AS line, raw_bytes,
                   raw_bytes IS NULL AND {blank_sql("line")} AS blank
            FROM _ad_lines
        ),
        layout AS (  -- per file: where each contract column is, or what is wrong with the header
            SELECT *, {_header_problem_sql()} AS header_problem
            FROM (
                SELECT source_file, line AS header, raw_bytes AS header_bytes,
                       CASE WHEN raw_bytes IS NULL THEN {header_names_sql("line")} END AS names
                FROM lines WHERE line_number = 1
            ) AS h
        ),
        data AS (
            SELECT l.source_file, l.line_number, l.line, l.raw_bytes, y.header_problem,
                   len(y.names) AS n_fields, {", ".join(f"y.i_{c}" for c in CSV_COLUMNS)},
                   CASE WHEN l.raw_bytes IS NULL THEN {csv_fields_sql("l.line")} END AS f
            FROM lines AS l JOIN (SELECT *, {positions} FROM layout) AS y ON l.source_file = y.source_file
            WHERE l.line_number >= 2 AND NOT l.blank
        ),
        valued AS (SELECT *, {values} FROM data),
        typed AS (
            SELECT *,
                   {iso_date_sql("v_date")} AS spend_date,
                   {", ".join(f"{_integer_sql(f'v_{c}')} AS {c}" for c in COUNTS)},
                   strlen(ltrim(split_part(ltrim(v_spend, '+-'), '.', 1), '0')) AS spend_digits,
                   strlen(rtrim(split_part(v_spend, '.', 2), '0')) AS spend_decimals
            FROM valued
        ),
        spent AS (
            SELECT *, CASE WHEN regexp_full_match(v_spend, '{_DECIMAL}') AND spend_digits <= {SPEND_DIGITS}
                                AND spend_decimals <= {SPEND_DECIMALS}
                           THEN try_cast(v_spend AS {SPEND_SQL_TYPE}) END AS spend
            FROM typed
        )
        SELECT source_file, line_number, line, spend_date, v_campaign_id AS campaign_id, v_ad_id AS ad_id,
               impressions, clicks, spend,
               CASE WHEN v_currency = '' THEN '{DEFAULT_CURRENCY}' ELSE upper(v_currency) END AS currency,
               {problem} AS problem
        FROM spent
        UNION ALL BY NAME
        SELECT source_file, 0 AS line_number, header AS line,
               struct_pack(reason := '{R.INVALID_HEADER.value}', detail := header_problem || '; no data lines')
                   AS problem
        FROM layout
        WHERE header_problem IS NOT NULL AND source_file NOT IN (SELECT source_file FROM data)
    """


def _ranked_sql() -> str:
    """Valid rows with their rank within their key (1 = the winner: last file by name, then last line)."""
    return """
        SELECT *, row_number() OVER w AS rank,
               first_value(source_file) OVER w || ':' || first_value(line_number) OVER w AS winner
        FROM _ad_classified WHERE problem IS NULL
        WINDOW w AS (PARTITION BY spend_date, campaign_id, ad_id ORDER BY source_file DESC, line_number DESC)
    """


def _kept_sql() -> str:
    return f"""
        SELECT spend_date, campaign_id, ad_id, impressions, clicks, spend, currency,
               source_file AS _source_file, line_number AS _line_number
        FROM ({_ranked_sql()}) AS ranked WHERE rank = 1
        ORDER BY _source_file, _line_number
    """


def _quarantine_sql(day: date) -> str:
    partition = f"DATE '{day:%Y-%m-%d}'"
    return f"""
        SELECT * FROM (
            SELECT {partition} AS spend_date, source_file AS _source_file, line_number AS _line_number,
                   problem.reason AS reason, problem.detail AS detail, line
            FROM _ad_classified WHERE problem IS NOT NULL
            UNION ALL
            SELECT {partition}, source_file, line_number, '{R.SUPERSEDED.value}', 'superseded by ' || winner, line
            FROM ({_ranked_sql()}) AS ranked WHERE rank > 1
            UNION ALL
            SELECT {partition}, source_file, 0, reason, detail, line FROM _ad_file_problems
        ) AS q
        ORDER BY _source_file, _line_number
    """


def _line_counts_sql() -> str:
    """Per file, counted from its lines (not from the outcome): data lines plus a line-0 row, blank lines."""
    return f"""
        SELECT source_file,
               count(*) FILTER (WHERE line_number >= 2 AND NOT blank)
                   + CASE WHEN bool_or(line_number = 0) THEN 1 ELSE 0 END,
               count(*) FILTER (WHERE line_number >= 2 AND blank)
        FROM (
            SELECT source_file, line_number, raw_bytes IS NULL AND {blank_sql("CAST(line AS VARCHAR)")} AS blank
            FROM _ad_lines
            UNION ALL
            SELECT source_file, 0, false FROM _ad_classified WHERE line_number = 0
            UNION ALL
            SELECT source_file, 0, false FROM _ad_file_problems
        ) AS counted
        GROUP BY source_file ORDER BY source_file
    """
