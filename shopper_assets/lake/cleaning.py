"""The cleaning rules as one vectorised DuckDB query, generated from the event contract.

Every raw line of a partition gets exactly one outcome: a typed row in cleaned_events, a
quarantine row with a reason code, or "duplicate" (same event_id as a row kept). The rules are
evaluated in a fixed order so each bad line has one, most fundamental, reason.
"""

from __future__ import annotations

from shopper_assets.contract.events import (
    ACCEPTED_VALUES,
    ALL,
    DEFAULT_CURRENCY,
    EVENT_FIELDS,
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    SCHEMA_VERSION,
    QuarantineReason,
)

# DuckDB json_type() names per contract JSON type.
_JSON_TYPES = {
    "string": ("VARCHAR",),
    "number": ("BIGINT", "UBIGINT", "DOUBLE"),
    "integer": ("BIGINT", "UBIGINT"),
}
_KNOWN_KEYS = [f.name for f in EVENT_FIELDS]


def _sql_list(values) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _sql_tuple(values) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _present(i: int) -> str:
    return f"coalesce(t[{i}], 'NULL') <> 'NULL'"


def _first(cases: list[tuple[str, str]]) -> str:
    """SQL CASE returning the label of the first true condition, NULL if none."""
    if not cases:
        return "NULL"
    return "CASE " + " ".join(f"WHEN {cond} THEN '{label}'" for cond, label in cases) + " END"


def parse_sql(source: str) -> str:
    """One JSON parse pass: every contract field as text (``v``) and its JSON type (``t``)."""
    paths = ", ".join(f"'$.\"{name}\"'" for name in _KNOWN_KEYS)
    return f"""
        SELECT s.*,
               CASE WHEN is_object THEN json_extract_string(line, [{paths}]) END AS v,
               CASE WHEN is_object THEN json_type(line, [{paths}]) END AS t,
               CASE WHEN is_object THEN json_keys(line) END AS keys
        FROM (
            SELECT r.*,
                   raw_bytes IS NULL AND line_number > 0
                   AND coalesce(json_valid(line) AND ltrim(line) LIKE '{{%', false) AS is_object
            FROM ({source}) AS r
        ) AS s
    """


def _fast_valid_sql(idx: dict[str, int]) -> str:
    """True exactly when no rule of classify_sql fires; cheap enough to run on every line."""
    et = f"v[{idx['event_type']}]"
    type_checks = []
    for f in EVENT_FIELDS:
        i, allowed = idx[f.name], tuple(_JSON_TYPES[f.json_type])
        present_ok = f"coalesce(t[{i}] IN {_sql_tuple(allowed)}, false)"
        absent_ok = f"coalesce(t[{i}], 'NULL') IN {_sql_tuple((*allowed, 'NULL'))}"
        if f.required_for == ALL:
            type_checks.append(present_ok)
        elif f.required_for:
            type_checks.append(
                f"CASE WHEN {et} IN {_sql_tuple(sorted(f.required_for))} THEN {present_ok} ELSE {absent_ok} END"
            )
        else:
            type_checks.append(absent_ok)
    types_ok = f"{et} IN {_sql_tuple(EVENT_TYPES)} AND " + " AND ".join(type_checks)
    values_ok = " AND ".join(
        f"(v[{idx[name]}] IS NULL OR v[{idx[name]}] IN {tuple(values)!r})"
        for name, values in ACCEPTED_VALUES.items()
        if name != "event_type"
    )
    cur, sv = idx["currency"], idx["schema_version"]
    return f"""(is_object AND strlen(line) <= {MAX_EVENT_BYTES} AND {types_ok} AND {values_ok}
        AND (v[{sv}] IS NULL OR v[{sv}] = '{SCHEMA_VERSION}')
        AND (v[{cur}] IS NULL OR v[{cur}] = '{DEFAULT_CURRENCY}' OR regexp_full_match(v[{cur}], '[A-Z]{{3}}'))
        AND v[{idx["event_id"]}] <> ''
        AND event_time IS NOT NULL AND date_trunc('hour', event_time) = event_hour
        AND coalesce(price >= 0 AND price_exact = price, true)
        AND coalesce(quantity >= 1, true)
        AND coalesce(discount_amount >= 0 AND discount_exact = discount_amount, true))"""


def classify_sql(parsed: str) -> str:
    """Adds typed columns and ``reason``/``detail`` (NULL reason = valid) to the parsed rows."""
    idx = {name: i + 1 for i, name in enumerate(_KNOWN_KEYS)}
    always = [f for f in EVENT_FIELDS if f.required_for == ALL]
    per_type = [f for f in EVENT_FIELDS if f.required_for and f.required_for != ALL]

    missing_always = [(f"NOT {_present(idx[f.name])}", f.name) for f in always]
    wrong_type = [
        (
            f"{_present(idx[f.name])} AND t[{idx[f.name]}] NOT IN {tuple(_JSON_TYPES[f.json_type])!r}".replace(
                ",)", ")"
            ),
            f.name,
        )
        for f in EVENT_FIELDS
    ]
    missing_for_type = [
        (
            f"v[{idx['event_type']}] IN {tuple(sorted(f.required_for))!r} AND NOT {_present(idx[f.name])}".replace(
                ",)", ")"
            ),
            f.name,
        )
        for f in per_type
    ]
    bad_value = [
        (f"{_present(idx[name])} AND v[{idx[name]}] NOT IN {tuple(values)!r}", name)
        for name, values in ACCEPTED_VALUES.items()
        if name != "event_type"
    ]
    bad_value += [
        (f"{_present(idx['currency'])} AND NOT regexp_full_match(v[{idx['currency']}], '[A-Z]{{3}}')", "currency"),
        (f"{_present(idx['price'])} AND price_exact <> price", "price has more than 2 decimals"),
        (
            f"{_present(idx['discount_amount'])} AND (discount_amount < 0 OR discount_exact <> discount_amount)",
            "discount_amount",
        ),
        (f"{_present(idx['event_id'])} AND v[{idx['event_id']}] = ''", "event_id"),
    ]
    q = QuarantineReason
    rules: list[tuple[str, str, str]] = [  # (condition, reason, detail expression)
        ("line_number = 0", q.UNREADABLE_FILE, "line"),
        (
            f"strlen(line) > {MAX_EVENT_BYTES}",
            q.OVERSIZED,
            f"'line of ' || strlen(line) || ' bytes (max {MAX_EVENT_BYTES})'",
        ),
        ("raw_bytes IS NOT NULL", q.INVALID_UTF8, "'line is not valid UTF-8'"),
        (
            "NOT is_object",
            q.INVALID_JSON,
            "CASE WHEN line = '' THEN 'empty line' WHEN try_cast(line AS JSON) IS NULL THEN 'not JSON' "
            "ELSE 'JSON value is not an object' END",
        ),
        (f"{_first(missing_always)} IS NOT NULL", q.MISSING_REQUIRED_FIELD, _first(missing_always)),
        (f"{_first(wrong_type)} IS NOT NULL", q.INVALID_TYPE, _first(wrong_type)),
        (
            f"{_present(idx['schema_version'])} AND v[{idx['schema_version']}] <> '{SCHEMA_VERSION}'",
            q.UNSUPPORTED_SCHEMA_VERSION,
            f"'schema_version ' || v[{idx['schema_version']}]",
        ),
        (f"v[{idx['event_type']}] NOT IN {tuple(EVENT_TYPES)!r}", q.UNKNOWN_EVENT_TYPE, f"v[{idx['event_type']}]"),
        (f"{_first(missing_for_type)} IS NOT NULL", q.MISSING_REQUIRED_FIELD, _first(missing_for_type)),
        ("event_time IS NULL", q.INVALID_TIMESTAMP, f"v[{idx['event_time']}]"),
        (f"{_first(bad_value)} IS NOT NULL", q.INVALID_VALUE, _first(bad_value)),
        ("price < 0", q.NEGATIVE_PRICE, "CAST(price AS VARCHAR)"),
        ("quantity < 1", q.INVALID_QUANTITY, "CAST(quantity AS VARCHAR)"),
        (
            "date_trunc('hour', event_time) > event_hour",
            q.FUTURE_TIMESTAMP,
            "'event_time ' || CAST(event_time AS VARCHAR) || ' is after the hour it was delivered in'",
        ),
        (
            "date_trunc('hour', event_time) < event_hour",
            q.LATE_BEYOND_LOOKBACK,
            "'event_time ' || CAST(event_time AS VARCHAR) || ' arrived after the late-arrival window'",
        ),
    ]
    # Most lines are valid: one cheap predicate clears them; only the rest walk the rules in order.
    ok = _fast_valid_sql(idx)
    reason = (
        f"CASE WHEN {ok} THEN NULL ELSE coalesce(CASE "
        + " ".join(f"WHEN {c} THEN '{r.value}'" for c, r, _ in rules)
        + f" END, '{q.INVALID_VALUE.value}') END"
    )
    detail = f"CASE WHEN {ok} THEN NULL ELSE CASE " + " ".join(f"WHEN {c} THEN {d}" for c, _, d in rules) + " END END"

    typed = []
    for f in EVENT_FIELDS:
        i = idx[f.name]
        if f.name == "event_time":
            expr = f"CAST(try_cast(v[{i}] AS TIMESTAMPTZ) AS TIMESTAMP)"
        elif f.name == "currency":
            expr = f"coalesce(v[{i}], '{DEFAULT_CURRENCY}')"
        elif f.name == "schema_version":
            expr = f"coalesce(try_cast(v[{i}] AS INTEGER), {SCHEMA_VERSION})"
        elif f.sql_type == "VARCHAR":
            expr = f"v[{i}]"
        else:
            expr = f"try_cast(v[{i}] AS {f.sql_type})"
        typed.append(f"{expr} AS {f.name}")
    has_extra = f"len(list_filter(keys, lambda k: NOT list_contains({_sql_list(_KNOWN_KEYS)}, k))) > 0"
    without_known = "line"
    for name in _KNOWN_KEYS:  # json_remove takes one path; only lines with unknown keys pay for this
        without_known = f"json_remove({without_known}, '$.\"{name}\"')"
    typed.append(f"CASE WHEN is_object AND {has_extra} THEN CAST({without_known} AS VARCHAR) END AS extra_fields")
    typed_sql = ",\n               ".join(typed)
    return f"""
        SELECT *, {reason} AS reason, {detail} AS detail
        FROM (
            SELECT p.*,
               {typed_sql},
               try_cast(v[{idx["price"]}] AS DECIMAL(38, 10)) AS price_exact,
               try_cast(v[{idx["discount_amount"]}] AS DECIMAL(38, 10)) AS discount_exact
            FROM ({parsed}) AS p
        ) AS typed
    """


def cleaned_rows_sql(raw: str) -> str:
    """Valid events of a raw relation, one row per event_id (the first delivery wins)."""
    from shopper_assets.lake.tables import CLEANED_EVENTS

    cols = ", ".join(c if not c.startswith("_") else f"{c[1:]} AS {c}" for c in CLEANED_EVENTS.column_names)
    return f"""
        SELECT {cols}
        FROM ({classify_sql(parse_sql(raw))}) AS c
        WHERE reason IS NULL
        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY landing_hour, source_file, line_number) = 1
    """


def rejected_rows_sql(raw: str, cleaned: str) -> str:
    """Lines of ``raw`` that did not reach ``cleaned``, classified, with a reason (duplicates excluded).

    Only the lines missing from cleaned_events are parsed again (found by lineage), so this costs a
    join, not a second parse of the window. Columns: the quarantine table's plus ``event_time``.
    """
    leftovers = f"""
        SELECT r.* FROM ({raw}) AS r
        ANTI JOIN (SELECT _source_file, _line_number FROM ({cleaned})) AS c
          ON r.source_file = c._source_file AND r.line_number = c._line_number
    """
    event_id = f"v[{_KNOWN_KEYS.index('event_id') + 1}]"
    return f"""
        SELECT event_hour, landing_hour, source_file, line_number,
               CASE WHEN is_object THEN {event_id} END AS event_id,
               reason, detail, line, raw_bytes, CAST(now() AS TIMESTAMP) AS quarantined_at, event_time
        FROM ({classify_sql(parse_sql(leftovers))}) AS q
        WHERE reason IS NOT NULL
    """
