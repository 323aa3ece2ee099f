"""How the contract's ``event_time`` is read from a raw line, in SQL: the one definition of a valid event
time, shared by routing (the local lake, the Kafka lander, S3 drops) and the cleaning step, so they agree
on every line."""

from __future__ import annotations

EVENT_TIME_KEY = '"event_time":"'
#: ISO-8601 with an offset, as the contract requires: a date and a time, then Z or +hh:mm (+hhmm, +hh).
#: A date alone, a time without an offset or any other spelling is not a timestamp of the contract.
TIMESTAMP_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"  # date, time
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)"  # offset
)


def timestamp_sql(text: str) -> str:
    """SQL for a contract timestamp text as TIMESTAMPTZ; NULL for any other spelling or an impossible time.

    The one definition of a valid ``event_time``: routing (here, the Kafka lander, S3 drops) and the
    cleaning step all read it with this, so they agree on every line.
    """
    return f"CASE WHEN regexp_full_match({text}, '{TIMESTAMP_PATTERN}') THEN try_cast({text} AS TIMESTAMPTZ) END"


def _searched(line: str, pos: str) -> str:
    """The substring search at ``pos`` found the top-level key: the line starts an object and no ``{`` or
    ``[`` (a nested value that could hold the key) comes before it."""
    before = f"substr({line}, 2, {pos} - 2)"
    return f"{pos} > 0 AND starts_with({line}, '{{') AND strpos({before}, '{{') = 0 AND strpos({before}, '[') = 0"


def _found(line: str, pos: str) -> str:
    """The text after the key up to the next quote (the value, when it holds no escape)."""
    return f"split_part(substr({line}, {pos} + {len(EVENT_TIME_KEY)}, 64), '\"', 1)"


def _plain(value: str) -> str:
    """The value was read whole (shorter than the 64 characters looked at) and holds no escape."""
    return f"strlen({value}) < 63 AND strpos({value}, '\\') = 0"


def _parsed(line: str) -> str:
    return f"try(json_extract_string({line}, '$.event_time'))"


def with_event_time(relation: str, line: str = "line", column: str = "event_ts") -> str:
    """``relation`` with one more column: the TIMESTAMPTZ of each line's top-level ``event_time`` (NULL when
    it has none of the contract's form), as a JSON parser reads it.

    Most lines are the compact JSON the producers write, with ``event_time`` among the first keys; for
    them a substring search gives the value without parsing the line. The search is used only where it
    provably finds the top-level key (``_searched``: no nested value before it) and the value whole
    (``_plain``); any other line is parsed (of a repeated key the parser reads the first, as the cleaning
    step does, which quarantines such lines). Each piece is a column, computed once per line.
    """
    return f"""
        SELECT * EXCLUDE (_et_pos, _et_found, _et_text), {timestamp_sql("_et_text")} AS {column}
        FROM (
            SELECT *, CASE WHEN _et_found IS NOT NULL AND {_plain("_et_found")} THEN _et_found
                           ELSE {_parsed(line)} END AS _et_text
            FROM (
                SELECT *, CASE WHEN {_searched(line, "_et_pos")} THEN {_found(line, "_et_pos")} END AS _et_found
                FROM (SELECT *, strpos({line}, '{EVENT_TIME_KEY}') AS _et_pos FROM ({relation}) AS lines) AS p
            ) AS f
        ) AS t
    """


def event_time_text_sql(line: str) -> str:
    """The text ``with_event_time`` reads, as one expression (for a single value; the relation form is the
    fast one, since DuckDB computes a repeated sub-expression once per use)."""
    pos = f"strpos({line}, '{EVENT_TIME_KEY}')"
    found = _found(line, pos)
    return f"CASE WHEN {_searched(line, pos)} AND {_plain(found)} THEN {found} ELSE {_parsed(line)} END"


def event_time_sql(line: str) -> str:
    """SQL for the event_time of one text value (TIMESTAMPTZ, NULL if it has none of the contract's form)."""
    return timestamp_sql(event_time_text_sql(line))
