"""The cleaning rules as one vectorised DuckDB query, generated from the event contract.

Every raw line of a partition gets exactly one outcome: a typed row in cleaned_events, a
quarantine row with a reason code, or "duplicate" (same event_id as a row kept). The rules are
evaluated in a fixed order so each bad line has one, most fundamental, reason.

Two extractions per line: ``json_extract`` gives every contract field as a JSON fragment, whose
first character tells its JSON type (a quote: a string, ...), and ``json_extract_string`` gives
its text. Full type names are worked out only for rejected lines, to name the reason.
"""

from __future__ import annotations

from shopper_assets.contract.event_time import timestamp_sql
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
from shopper_assets.contract.tables import CLEANED_EVENTS, QUARANTINED_EVENTS
from shopper_assets.ingestion.landing import LANDED_SUFFIXES
from shopper_assets.partitions import first_hour
from shopper_assets.storage.lake_store import sql_ts

# Type tags read off a fragment, per contract JSON type (the names DuckDB's json_type uses).
_JSON_TYPES = {
    "string": ("VARCHAR",),
    "number": ("BIGINT", "DOUBLE"),
    "integer": ("BIGINT",),
}
_KNOWN_KEYS = [f.name for f in EVENT_FIELDS]
_NUMERIC = [f for f in EVENT_FIELDS if f.json_type != "string"]
_STRINGS = [f for f in EVENT_FIELDS if f.json_type == "string"]
#: Identifiers: where present, they must identify something (not empty, not only white space).
_IDS = [f for f in _STRINGS if f.name.endswith("_id")]
_BLANK = r"[\s\p{Z}]*"  # nothing but white space (ASCII or Unicode separators)
_ESCAPED_NUL = "\\u0000"  # how JSON writes U+0000, which no text column stores (Postgres text cannot)


def _sql_tuple(values) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _sql_list(values) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _tag(name: str) -> str:
    """JSON type of a field's fragment as json_type names it; NULL when the key is absent.

    Used only by the rules for rejected lines, so valid lines never pay for it.
    """
    j = f"j_{name}"
    return f"""(CASE WHEN {j} IS NULL THEN NULL
        WHEN starts_with({j}, '"') THEN 'VARCHAR'
        WHEN {j} = 'null' THEN 'NULL'
        WHEN starts_with({j}, '{{') THEN 'OBJECT'
        WHEN starts_with({j}, '[') THEN 'ARRAY'
        WHEN {j} IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match({j}, '-?[0-9]+') THEN 'BIGINT'
        ELSE 'DOUBLE' END)"""


def _present(name: str) -> str:
    return f"coalesce(j_{name}, 'null') <> 'null'"


def _first(cases: list[tuple[str, str]]) -> str:
    """SQL CASE returning the label of the first true condition, NULL if none."""
    if not cases:
        return "NULL"
    return "CASE " + "\n            ".join(f"WHEN {cond} THEN '{label}'" for cond, label in cases) + " END"


def parse_sql(source: str) -> str:
    """Each contract field's JSON fragment ``j_`` (for its type) and its text ``v_`` (for its value), the
    object's top-level ``keys``, how many of them are not contract fields (``n_extra``), and whether a
    contract field is given twice (``repeated_field``: the line is ambiguous, quarantined). A key count
    above the contract fields present plus the others means a repeat: cheaper than a distinct count,
    which doubled the cleaning's time. (An unknown field given twice is kept as delivered.)"""
    paths = ", ".join(f"'$.\"{name}\"'" for name in _KNOWN_KEYS)
    columns = ",\n               ".join(
        f"CAST(f[{i}] AS VARCHAR) AS j_{name}, s[{i}] AS v_{name}" for i, name in enumerate(_KNOWN_KEYS, start=1)
    )
    present = " + ".join(f"CAST(f[{i}] IS NOT NULL AS INTEGER)" for i in range(1, len(_KNOWN_KEYS) + 1))
    # as many keys as contract fields present: no other key and no repeat, without the list filter
    extra = (
        f"CASE WHEN len(keys) = n_present THEN 0 "
        f"ELSE len(list_filter(keys, lambda k: NOT list_contains({_sql_list(_KNOWN_KEYS)}, k))) END"
    )
    return f"""
        SELECT * EXCLUDE (f, s, n_present), {columns}, len(keys) > n_present + n_extra AS repeated_field
        FROM (
          SELECT *, {extra} AS n_extra
          FROM (
            SELECT *, {present} AS n_present
            FROM (
              SELECT o.*,
                     CASE WHEN is_object THEN json_keys(line) END AS keys,
                     CASE WHEN is_object THEN json_extract(line, [{paths}]) END AS f,
                     CASE WHEN is_object THEN json_extract_string(line, [{paths}]) END AS s
              FROM (
                  SELECT r.*,
                         raw_bytes IS NULL AND line_number > 0 AND strlen(line) <= {MAX_EVENT_BYTES}
                         AND coalesce(json_valid(line) AND ltrim(line) LIKE '{{%', false) AS is_object
                  FROM ({source}) AS r
              ) AS o
            ) AS n
          ) AS k
        ) AS p
    """


def _type_ok(f) -> str:
    """The field's fragment has its contract JSON type (cheap tests; true only if present)."""
    j = f"j_{f.name}"
    if f.json_type == "string":
        return f"starts_with({j}, '\"')"
    ok = f"NOT starts_with({j}, '\"') AND {f.name} IS NOT NULL"  # a number the column type holds
    if f.json_type == "integer":
        ok += f" AND NOT regexp_matches({j}, '[.eE]')"
    return ok


def _decimals_ok(name: str) -> str:
    """A number has at most 2 decimals (plain notation read off the text, else an exact compare)."""
    v = f"v_{name}"
    return f"""CASE WHEN regexp_matches({v}, '[eE]') THEN try_cast({v} AS DECIMAL(38, 10)) = {name}
        ELSE strpos({v}, '.') = 0 OR strlen({v}) - strpos({v}, '.') <= 2 END"""


def _fast_valid_sql() -> str:
    """True exactly when no rule of classify_sql fires; cheap enough to run on every line."""
    checks = []
    for f in EVENT_FIELDS:
        absent_ok = f"(j_{f.name} IS NULL OR j_{f.name} = 'null' OR {_type_ok(f)})"
        if f.required_for == ALL:
            checks.append(f"coalesce({_type_ok(f)}, false)")
        elif f.required_for:
            checks.append(
                f"CASE WHEN v_event_type IN {_sql_tuple(sorted(f.required_for))} "
                f"THEN coalesce({_type_ok(f)}, false) ELSE {absent_ok} END"
            )
        else:
            checks.append(absent_ok)
    checks.append("NOT repeated_field")
    checks.append(f"v_event_type IN {_sql_tuple(EVENT_TYPES)}")
    checks += [
        f"(v_{name} IS NULL OR v_{name} IN {_sql_tuple(values)})"
        for name, values in ACCEPTED_VALUES.items()
        if name != "event_type"
    ]
    checks += [
        f"(v_schema_version IS NULL OR v_schema_version = '{SCHEMA_VERSION}')",
        f"(v_currency IS NULL OR v_currency = '{DEFAULT_CURRENCY}' OR regexp_full_match(v_currency, '[A-Z]{{3}}'))",
        *[_not_blank(f.name) for f in _IDS],
        f"CASE WHEN contains(line, '{_ESCAPED_NUL}') THEN NOT ({_any_nul()}) ELSE true END",
        "event_time IS NOT NULL AND date_trunc('hour', event_time) = event_hour",
        f"(price IS NULL OR (price >= 0 AND {_decimals_ok('price')}))",
        "coalesce(quantity >= 1, true)",
        f"(discount_amount IS NULL OR (discount_amount >= 0 AND {_decimals_ok('discount_amount')}))",
    ]
    return "(is_object AND " + "\n        AND ".join(checks) + ")"


def _not_blank(name: str) -> str:
    """Absent, or not only white space: a printable ASCII first character settles it without the regex."""
    v = f"v_{name}"
    return (
        f"CASE WHEN {v} IS NULL OR unicode({v}) BETWEEN 33 AND 126 THEN true "
        f"ELSE NOT regexp_full_match({v}, '{_BLANK}') END"
    )


def _any_nul() -> str:
    """Some string field's value holds U+0000 (only possible when the line has the escape ``\\u0000``)."""
    return " OR ".join(f"coalesce(contains(v_{f.name}, chr(0)), false)" for f in _STRINGS)


def _landed_name(column: str) -> str:
    return " OR ".join(f"ends_with({column}, '{suffix}')" for suffix in LANDED_SUFFIXES)


def _exact(name: str) -> str:
    return f"coalesce(try_cast(v_{name} AS DECIMAL(38, 10)) = {name}, false)"


def _labels() -> dict[str, str]:
    """Per group of like rules, a column naming what the first failing one is about (NULL if none fails).

    Worked out once per rejected line: the rule of a group fires when its column is not NULL, and the
    column is its detail.
    """
    always = [f for f in EVENT_FIELDS if f.required_for == ALL]
    per_type = [f for f in EVENT_FIELDS if f.required_for and f.required_for != ALL]
    missing_always = [(f"NOT {_present(f.name)}", f.name) for f in always]
    wrong_type = [
        (f"{_present(f.name)} AND {_tag(f.name)} NOT IN {_sql_tuple(_JSON_TYPES[f.json_type])}", f.name)
        for f in EVENT_FIELDS
    ]
    missing_for_type = [
        (f"v_event_type IN {_sql_tuple(sorted(f.required_for))} AND NOT {_present(f.name)}", f.name) for f in per_type
    ]
    bad_value = [
        (f"{_present(name)} AND v_{name} NOT IN {_sql_tuple(values)}", name)
        for name, values in ACCEPTED_VALUES.items()
        if name != "event_type"
    ]
    bad_value += [(f"{_present(f.name)} AND {f.name} IS NULL", f"{f.name} out of range") for f in _NUMERIC]
    bad_value += [
        (f"{_present('currency')} AND NOT regexp_full_match(v_currency, '[A-Z]{{3}}')", "currency"),
        (f"{_present('price')} AND NOT {_exact('price')}", "price has more than 2 decimals"),
        (
            f"{_present('discount_amount')} AND (discount_amount < 0 OR NOT {_exact('discount_amount')})",
            "discount_amount",
        ),
        *[(f"{_present(f.name)} AND regexp_full_match(v_{f.name}, '{_BLANK}')", f"{f.name} is blank") for f in _IDS],
        *[
            (f"{_present(f.name)} AND contains(v_{f.name}, chr(0))", f"{f.name} holds a NUL character (U+0000)")
            for f in _STRINGS
        ],
    ]
    return {
        "_missing_field": _first(missing_always),
        "_wrong_type": _first(wrong_type),
        "_missing_for_type": _first(missing_for_type),
        "_bad_value": _first(bad_value),
    }


def _rules() -> list[tuple[str, QuarantineReason, str]]:
    """(condition, reason, detail expression) in the order they are tried (on the columns of ``_labels``)."""
    q = QuarantineReason
    start = first_hour()
    return [
        (f"line_number = 0 AND NOT ({_landed_name('source_file')})", q.UNSUPPORTED_FILE, "line"),
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
        (
            "repeated_field",
            q.INVALID_JSON,
            f"'key ' || (list_filter(keys, lambda k, i: list_contains({_sql_list(_KNOWN_KEYS)}, k) "
            "AND list_position(keys, k) < i))[1] || ' appears more than once'",
        ),
        ("_missing_field IS NOT NULL", q.MISSING_REQUIRED_FIELD, "_missing_field"),
        ("_wrong_type IS NOT NULL", q.INVALID_TYPE, "_wrong_type"),
        (
            f"{_present('schema_version')} AND v_schema_version <> '{SCHEMA_VERSION}'",
            q.UNSUPPORTED_SCHEMA_VERSION,
            "'schema_version ' || v_schema_version",
        ),
        (f"v_event_type NOT IN {_sql_tuple(EVENT_TYPES)}", q.UNKNOWN_EVENT_TYPE, "v_event_type"),
        ("_missing_for_type IS NOT NULL", q.MISSING_REQUIRED_FIELD, "_missing_for_type"),
        ("event_time IS NULL", q.INVALID_TIMESTAMP, "v_event_time"),
        ("_bad_value IS NOT NULL", q.INVALID_VALUE, "_bad_value"),
        ("price < 0", q.NEGATIVE_PRICE, "CAST(price AS VARCHAR)"),
        ("quantity < 1", q.INVALID_QUANTITY, "CAST(quantity AS VARCHAR)"),
        (
            f"event_time < {sql_ts(start)}",
            q.BEFORE_START_DATE,
            f"'event_time ' || CAST(event_time AS VARCHAR) || ' is before SHOPPER_START_DATE, {start:%Y-%m-%d}'",
        ),
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


def classify_sql(parsed: str) -> str:
    """Typed columns plus ``reason``/``detail`` (NULL reason = valid) for parsed rows."""
    rules = _rules()
    # Most lines are valid: one cheap predicate clears them; only the rest get the group labels and
    # walk the rules in order, once: the first rule that fires is numbered (``_rule``), and names the
    # reason and the detail. One rule a line, so that the rendered query (tests/lake/snapshots/)
    # reads as a reviewable diff.
    ok = _fast_valid_sql()
    labels = _labels()
    first_rule = "\n          ".join(f"WHEN {c} THEN {i}" for i, (c, _, _) in enumerate(rules, start=1))
    rule = f"CASE WHEN is_valid THEN NULL ELSE CASE\n          {first_rule}\n        END END"
    reasons = _sql_list(r.value for _, r, _ in rules)
    reason = (
        f"CASE WHEN is_valid THEN NULL ELSE coalesce({reasons}[_rule], '{QuarantineReason.INVALID_VALUE.value}') END"
    )
    label_columns = ",\n                   ".join(
        f"CASE WHEN is_valid THEN NULL ELSE {expr} END AS {name}" for name, expr in labels.items()
    )
    details = "\n          ".join(f"WHEN {i} THEN {d}" for i, (_, _, d) in enumerate(rules, start=1))
    detail = f"CASE _rule\n          {details}\n        END"

    typed = []
    for f in EVENT_FIELDS:
        v = f"v_{f.name}"
        if f.name == "event_time":
            expr = f"CAST({timestamp_sql(v)} AS TIMESTAMP)"
        elif f.name == "currency":
            expr = f"coalesce({v}, '{DEFAULT_CURRENCY}')"
        elif f.name == "schema_version":
            expr = f"coalesce(try_cast({v} AS INTEGER), {SCHEMA_VERSION})"
        elif f.sql_type == "VARCHAR":
            expr = v
        else:
            expr = f"try_cast({v} AS {f.sql_type})"
        typed.append(f"{expr} AS {f.name}")
    # Unknown fields are kept; only lines that have some pay for removing the known ones.
    without_known = "line"
    for name in _KNOWN_KEYS:  # json_remove takes one path
        without_known = f"json_remove({without_known}, '$.\"{name}\"')"
    typed.append(f"CASE WHEN is_object AND n_extra > 0 THEN CAST({without_known} AS VARCHAR) END AS extra_fields")
    typed_sql = ",\n               ".join(typed)
    return f"""
        SELECT * EXCLUDE (_rule, {", ".join(labels)}), {reason} AS reason, {detail} AS detail
        FROM (
            SELECT *, {rule} AS _rule
            FROM (
                SELECT *, {label_columns}
                FROM (
                    SELECT *, {ok} AS is_valid
                    FROM (
                        SELECT p.*,
                           {typed_sql}
                        FROM ({parsed}) AS p
                    ) AS t
                ) AS v
            ) AS l
        ) AS typed
    """


def classified_sql(raw: str) -> str:
    """Every raw line, typed and classified, with what cleaned and quarantined rows need."""
    typed = ", ".join(f.name for f in EVENT_FIELDS)
    return f"""
        SELECT event_hour, landing_hour, source_file, line_number, {typed}, extra_fields, reason,
               CASE WHEN reason IS NOT NULL THEN detail END AS detail,
               CASE WHEN reason IS NOT NULL THEN line END AS line,
               CASE WHEN reason IS NOT NULL THEN raw_bytes END AS raw_bytes
        FROM ({classify_sql(parse_sql(raw))}) AS c
    """


def cleaned_rows_sql(classified: str) -> str:
    """Valid events of a classified relation, one row per event_id and hour (the first delivery wins).

    Per hour, so that a window's rows never depend on how its hours are grouped into runs: an event_id
    delivered with event_times in two hours (a conflicting re-delivery, not a duplicate) is kept in
    both, whichever run sees them, and the ``unique_event_id`` check fails naming both hours.
    """
    cols = ", ".join(c if not c.startswith("_") else f"{c[1:]} AS {c}" for c in CLEANED_EVENTS.column_names)
    return f"""
        SELECT {cols}
        FROM ({classified}) AS c
        WHERE reason IS NULL
        QUALIFY row_number() OVER (
            PARTITION BY event_hour, event_id ORDER BY landing_hour, source_file, line_number
        ) = 1
    """


def leftover_keys_sql(raw: str, cleaned: str) -> str:
    """(source_file, line_number) of the lines of ``raw`` that did not reach ``cleaned``, found by lineage
    from the key columns alone: most days have few such lines, and when there are none no line's text
    is read (``leftovers_sql`` reads only the lines named)."""
    return f"""
        SELECT r.source_file, r.line_number FROM ({raw}) AS r
        ANTI JOIN (SELECT _source_file, _line_number FROM ({cleaned})) AS c
          ON r.source_file = c._source_file AND r.line_number = c._line_number
    """


def leftovers_sql(raw: str, keys: str) -> str:
    """The lines of ``raw`` named by ``keys`` (``leftover_keys_sql``), whole, so only they are parsed again."""
    return f"""
        SELECT r.* FROM ({raw}) AS r
        SEMI JOIN ({keys}) AS k ON r.source_file = k.source_file AND r.line_number = k.line_number
    """


def rejected_rows_sql(classified: str) -> str:
    """Lines of a classified relation that were rejected, with their reason (duplicates are not).

    Columns: the quarantine table's plus ``event_time``.
    """
    special = {
        "quarantined_at": "CAST(now() AS TIMESTAMP) AS quarantined_at",
        # Text columns never hold U+0000 (Postgres text cannot): replaced by U+FFFD, the exact bytes of
        # such a line kept in raw_bytes, so the local lake and Postgres hold the same values.
        "line": "replace(line, chr(0), chr(65533)) AS line",
        "event_id": "replace(event_id, chr(0), chr(65533)) AS event_id",
        "detail": "replace(detail, chr(0), chr(65533)) AS detail",
        "raw_bytes": "CASE WHEN raw_bytes IS NULL AND contains(line, chr(0)) THEN encode(line) ELSE raw_bytes END"
        " AS raw_bytes",
    }
    cols = ", ".join(special.get(c, c) for c in QUARANTINED_EVENTS.column_names)
    return f"SELECT {cols}, event_time FROM ({classified}) AS q WHERE reason IS NOT NULL"
