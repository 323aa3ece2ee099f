"""Import of the public REES46 "eCommerce behavior data from multi category store" CSV files.

One DuckDB query turns a whole file into contract event JSON lines (no Python per row). Mapping
and the defaults the dataset cannot supply:

* ``event_time`` ``2019-10-01 00:00:00 UTC`` → ``2019-10-01T00:00:00Z``; event types
  view/cart/remove_from_cart/purchase → product_view/add_to_cart/remove_from_cart/purchase.
* ``category_id`` (19 digits) stays text end to end, kept as the extra field ``category_id``.
  ``category`` is ``category_code`` (``electronics.audio.headphone``), or ``"unknown"`` when the
  code is empty — a numeric id is no category name; analyses that need it read ``category_id``.
* ``brand`` lower-cased, empty → null. ``price`` as given (two decimals; more are quarantined by
  the cleaning rules, never rounded here). ``quantity`` 1 on cart, remove and purchase lines.
* No orders in the dataset: the purchases of one ``user_session`` form one order,
  ``order_id = "rees46-" + md5(user_session)``. A purchase needs no earlier cart event.
* ``page``: product (views, add to cart), cart (remove from cart), confirmation (purchase).
  ``device_type`` "desktop", ``referrer`` "direct", ``currency`` "USD", ``schema_version`` 1;
  ``user_type`` "new" on the user's first event in the file (by time), "returning" after.
* ``event_id = "rees46-" + md5(raw CSV line)`` (without its line terminator), and
  ``"rees46-" + md5(that md5 + "#k")`` for the k-th (k > 1) occurrence of the same line in the
  file: importing a file twice gives the same ids (no duplicates), while rows that are genuinely
  identical within one file (the dataset has them: two views in the same second) stay distinct
  events. Caveat: identical rows split across two files collapse into one.

Bad rows never block and are never dropped: they are emitted so that the cleaning step
quarantines them with a reason — an unparseable time as the raw text in ``event_time``
(``invalid_timestamp``), an unknown type as is (``unknown_event_type``), a non-numeric price as a
JSON string (``invalid_type``), a row with the wrong number of columns (or broken quoting) as the
raw CSV line (``invalid_json``), a line that is not UTF-8 as its exact bytes (``invalid_utf8``).
Empty user or session ids are left null and quarantined as ``missing_required_field``. Header
lines and blank lines are skipped (counted in the result).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from shopper_assets.contract.events import DEFAULT_CURRENCY, SCHEMA_VERSION
from shopper_assets.ingestion.csv_lines import csv_fields_sql
from shopper_assets.ingestion.lines import lines_table

HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
EVENT_TYPE_MAP = {
    "view": "product_view",
    "cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart",
    "purchase": "purchase",
}
PAGE_BY_TYPE = {
    "product_view": "product",
    "add_to_cart": "product",
    "remove_from_cart": "cart",
    "purchase": "confirmation",
}
DEFAULTS = {"device_type": "desktop", "referrer": "direct", "currency": DEFAULT_CURRENCY}
UNKNOWN_CATEGORY = "unknown"

_NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)"


@dataclass
class Rees46Batch:
    """Contract event lines of one CSV file, in file order (binary: bad lines keep their bytes)."""

    lines: pa.Array  # large_binary, no newline
    rows: int  # data rows converted (header and blank lines excluded)
    bad_rows: int  # malformed rows (time, type, price, columns, UTF-8); the cleaning step may find more
    skipped: int  # header and blank lines


def _case(column: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"CASE {column} {whens} END"


def conversion_sql(lines: str) -> str:
    """Contract JSON per data line of a relation of CSV lines (LINE_SCHEMA), with a bad-row flag."""
    fields = f"CASE WHEN raw_bytes IS NOT NULL THEN NULL ELSE {csv_fields_sql('line')} END"
    page = _case("event_type", PAGE_BY_TYPE)
    event_json = f"""json_object(
        'event_id', 'rees46-' || CASE WHEN occurrence = 1 THEN row_md5 ELSE md5(row_md5 || '#' || occurrence) END,
        'event_type', coalesce(event_type, et_raw),
        'event_time', CASE WHEN ts IS NULL THEN t_raw
                      ELSE strftime(ts, '%Y-%m-%dT%H:%M:%S')
                           || CASE WHEN microsecond(ts) % 1000000 <> 0
                                   THEN '.' || lpad(CAST(microsecond(ts) % 1000000 AS VARCHAR), 6, '0') ELSE '' END
                           || 'Z' END,
        'user_id', user_id,
        'session_id', user_session,
        'page', coalesce({page}, 'product'),
        'product_id', product_id,
        'category', coalesce(category_code, '{UNKNOWN_CATEGORY}'),
        'brand', lower(brand),
        'price', CASE WHEN price_raw IS NULL THEN NULL
                      WHEN price_num IS NULL THEN to_json(price_raw)
                      WHEN price_num = CAST(price_num AS DECIMAL(18, 2)) THEN to_json(CAST(price_num AS DECIMAL(18, 2)))
                      ELSE to_json(price_num) END,
        'quantity', CASE WHEN event_type IN ('add_to_cart', 'remove_from_cart', 'purchase') THEN 1 END,
        'order_id', CASE WHEN event_type = 'purchase' AND user_session IS NOT NULL
                         THEN 'rees46-' || md5(user_session) END,
        'currency', '{DEFAULTS["currency"]}',
        'device_type', '{DEFAULTS["device_type"]}',
        'referrer', '{DEFAULTS["referrer"]}',
        'user_type', CASE WHEN first_of_user THEN 'new' ELSE 'returning' END,
        'schema_version', {SCHEMA_VERSION},
        'category_id', category_id)"""
    return f"""
        WITH data AS (
            SELECT line_number, line, raw_bytes, {fields} AS f
            FROM {lines}
            WHERE raw_bytes IS NOT NULL OR NOT CASE  -- blank and header lines are skipped (cheap tests first)
                WHEN strlen(line) < 16 THEN trim(line) = ''
                WHEN contains(line, 'event_type') THEN lower(trim(replace(line, chr(65279), ''))) = '{HEADER}'
                ELSE false END
        ),
        parsed AS MATERIALIZED (  -- narrow rows: the fields, the row's hash, the bytes to land as is for broken rows
            SELECT line_number,
                   CASE WHEN raw_bytes IS NOT NULL THEN raw_bytes
                        WHEN NOT coalesce(len(f) = 9, false) THEN encode(line) END AS verbatim,
                   md5(coalesce(raw_bytes, encode(line))) AS row_md5,
                   trim(f[1]) AS t_raw, trim(f[2]) AS et_raw,
                   nullif(trim(f[3]), '') AS product_id, nullif(trim(f[4]), '') AS category_id,
                   nullif(trim(f[5]), '') AS category_code, nullif(trim(f[6]), '') AS brand,
                   nullif(trim(f[7]), '') AS price_raw, nullif(trim(f[8]), '') AS user_id,
                   nullif(trim(f[9]), '') AS user_session
            FROM data
        ),
        typed AS MATERIALIZED (
            SELECT *,
                   CAST(try_cast(t_raw AS TIMESTAMPTZ) AS TIMESTAMP) AS ts,
                   {_case("lower(et_raw)", EVENT_TYPE_MAP)} AS event_type,
                   CASE WHEN regexp_full_match(price_raw, '{_NUMBER}')
                        THEN try_cast(price_raw AS DECIMAL(38, 10)) END AS price_num
            FROM parsed
        ),
        repeats AS (  -- k-th occurrence of rows whose content repeats in the file (few)
            SELECT line_number, row_number() OVER (PARTITION BY row_md5 ORDER BY line_number) AS occurrence
            FROM parsed
            WHERE row_md5 IN (SELECT row_md5 FROM parsed GROUP BY row_md5 HAVING count(*) > 1)
        ),
        firsts AS (  -- each user's first event in the file, by time then position
            SELECT arg_min(line_number, [coalesce(epoch_us(ts), {2**63 - 1}), line_number]) AS line_number,
                   true AS first
            FROM typed WHERE user_id IS NOT NULL GROUP BY user_id
        ),
        ranked AS (
            SELECT t.*, coalesce(r.occurrence, 1) AS occurrence, coalesce(f.first, false) AS first_of_user
            FROM typed AS t
            LEFT JOIN repeats AS r USING (line_number)
            LEFT JOIN firsts AS f USING (line_number)
        )
        SELECT line_number,
               coalesce(verbatim, encode(CAST({event_json} AS VARCHAR))) AS line,
               verbatim IS NOT NULL OR ts IS NULL OR event_type IS NULL
                   OR (price_raw IS NOT NULL AND price_num IS NULL) AS bad
        FROM ranked
        ORDER BY line_number
    """


def convert_csv(data: bytes, name: str = "rees46.csv") -> Rees46Batch:
    """Contract event lines for one (decompressed) REES46 CSV file; see the module doc."""
    table = lines_table(name, data)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("csv_lines", table)
        out = con.sql(conversion_sql("csv_lines")).to_arrow_table()
    lines = out["line"].combine_chunks().cast(pa.large_binary())
    bad = int(pc.sum(out["bad"]).as_py() or 0)
    return Rees46Batch(lines=lines, rows=out.num_rows, bad_rows=bad, skipped=table.num_rows - out.num_rows)
