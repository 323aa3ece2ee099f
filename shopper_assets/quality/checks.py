"""Checks on a window of cleaned_events, computed with SQL on the lake session.

Each function returns an ``AssetCheckResult`` so the cleaning step can yield it, and so tests can
call it directly on data built to fail. Checks whose failure means wrong numbers downstream are
ERROR and blocking (dbt does not run on top of them); the volume anomaly is a WARN.

The row checks count per write batch of a partition (see ``Batch``): a batch's tallies are counted
once, on its own rows (against the rows before it where a check needs them), and stored in the
partition's manifest as the batch's note ``TALLIES`` (storage keeps notes without knowing them); an
hour's result adds up the tallies of its batches. So a micro-batch costs the checks its own size,
not its hour's, and a rebuilt or hand-changed hour is counted whole again.
Each batch is counted against the lake as it was when the batch was written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue

from shopper_assets.contract.events import ACCEPTED_VALUES, ALL, EVENT_FIELDS
from shopper_assets.contract.time_grid import hours_in
from shopper_assets.settings import DEFAULT_LATE_ARRIVAL_HOURS
from shopper_assets.sql_text import literal_list
from shopper_assets.storage.lake_store import Batch, LakeSession

CLEANED = "cleaned_events"
QUARANTINED = "quarantined_events"
TALLIES = "tallies"  # the note (``Batch.notes``) holding what the checks counted on a batch


def stored_tallies(batch: Batch) -> dict | None:
    """What the checks counted on ``batch`` when it was checked; None if it was not yet."""
    return batch.notes.get(TALLIES)


@dataclass(frozen=True)
class CheckThresholds:
    max_quarantine_ratio: float = 0.05
    # A ratio over a handful of lines says little: below this many quarantined rows an exceeded ratio
    # only warns (a quiet hour with 5 bad messages of 20 must not stop the marts).
    min_quarantined_rows: int = 50
    volume_history_days: int = 7
    volume_min_history_days: int = 3
    volume_tolerance: float = 0.5  # flag when the window is more than 50% off the trailing median


CHECK_SPECS = [
    AssetCheckSpec(
        "unique_event_id",
        asset=CLEANED,
        blocking=True,
        description=(
            "event_id is unique in the window and absent from neighbouring hours (an id delivered with two "
            "event_times is kept once per hour, and this check names it)."
        ),
    ),
    AssetCheckSpec(
        "required_fields_not_null",
        asset=CLEANED,
        blocking=True,
        description="Fields the contract requires (per event type) are never null.",
    ),
    AssetCheckSpec(
        "accepted_values",
        asset=CLEANED,
        blocking=True,
        description="event_type, page, device_type, referrer and user_type hold contract values.",
    ),
    AssetCheckSpec(
        "price_and_quantity_valid",
        asset=CLEANED,
        blocking=True,
        description="price >= 0 and quantity >= 1 wherever present.",
    ),
    AssetCheckSpec(
        "raw_reconciles",
        asset=CLEANED,
        blocking=True,
        description="raw rows = cleaned + quarantined + duplicates dropped, line by line.",
    ),
    AssetCheckSpec(
        "quarantine_ratio",
        asset=CLEANED,
        blocking=True,
        description=(
            "Share of raw lines quarantined stays under the configured threshold; it blocks only from a minimum "
            "number of quarantined rows (below it, an exceeded ratio warns)."
        ),
    ),
    AssetCheckSpec(
        "volume_anomaly",
        asset=CLEANED,
        blocking=False,
        description="Event volume of the window is within tolerance of the same hours on trailing days.",
    ),
]


def _one(session: LakeSession, sql: str):
    return session.con.execute(sql).fetchall()[0]


RECONCILE_COUNTS = (  # what raw_reconciles counts per batch, in the order its query returns them
    "raw_rows",
    "cleaned_rows",
    "quarantined_rows",
    "duplicates_dropped",
    "unplaced_rows",
    "rows_in_both",
    "rows_without_raw_line",
)


@dataclass(frozen=True)
class BatchRows:
    """The rows one batch of an hour wrote, as SQL relations, with what its checks compare them to."""

    hour: datetime
    cleaned: str  # the batch's cleaned rows
    earlier_ids: str  # event_ids of the hour's earlier batches
    raw: str  # the raw lines the batch was made from
    quarantined: str  # the quarantine rows made from those lines


def _unique_event_id(session: LakeSession, rows: BatchRows) -> dict:
    """Rows, and rows whose event_id is already in the batch or an earlier batch of the hour.

    Ids also in neighbouring hours are counted for all counted batches at once (``_across_hours``).
    """
    session.con.execute(f"CREATE OR REPLACE TEMP TABLE _batch_ids AS SELECT event_id FROM ({rows.cleaned})")
    # the hash table is built on the batch's ids, and the hour's earlier ids only probe it
    total, new_distinct = _one(
        session,
        f"""SELECT count(*), count(DISTINCT event_id) FILTER (WHERE event_id NOT IN (
                SELECT event_id FROM ({rows.earlier_ids}) WHERE event_id IN (SELECT event_id FROM _batch_ids)
            ))
            FROM _batch_ids""",
    )
    session.con.execute("DROP TABLE _batch_ids")
    return {"rows": total, "duplicate_rows": total - new_distinct}


def _across_hours(session: LakeSession, counted: list[BatchRows], neighbour_hours: int) -> list[int]:
    """Per counted batch: its rows whose event_id is also in another hour at most ``neighbour_hours`` away.

    One pass over the neighbourhood of all counted hours, however many hours a run counts.
    """
    if not counted:
        return []
    session.con.execute(
        "CREATE OR REPLACE TEMP TABLE _counted AS "
        + " UNION ALL ".join(
            f"SELECT {i} AS batch, event_hour, event_id FROM ({rows.cleaned})" for i, rows in enumerate(counted)
        )
    )
    lo = min(rows.hour for rows in counted) - timedelta(hours=neighbour_hours)
    hi = max(rows.hour for rows in counted) + timedelta(hours=neighbour_hours + 1)
    near = f"INTERVAL {int(neighbour_hours)} HOUR"
    found = dict(
        session.con.execute(f"""
            WITH seen AS (  -- the neighbourhood's rows with a counted id: a probe of the small side
                SELECT event_id, event_hour FROM ({session.scan(CLEANED, lo, hi)})
                WHERE event_id IN (SELECT event_id FROM _counted)
            )
            SELECT batch, count(*) FROM _counted AS c
            WHERE EXISTS (
                SELECT 1 FROM seen AS n
                WHERE n.event_id = c.event_id AND n.event_hour <> c.event_hour
                  AND n.event_hour BETWEEN c.event_hour - {near} AND c.event_hour + {near}
            )
            GROUP BY batch
        """).fetchall()
    )
    session.con.execute("DROP TABLE _counted")
    return [found.get(i, 0) for i in range(len(counted))]


def _row_rules(session: LakeSession, rows: BatchRows) -> dict[str, dict]:
    """The tallies of required_fields_not_null, accepted_values and price_and_quantity_valid, counted in
    one scan of the batch's rows (three scans cost a 10M-event day about 5 CPU-s more)."""
    nulls, unexpected = {}, {}
    for f in EVENT_FIELDS:
        if f.required_for == ALL:
            nulls[f.name] = f"{f.name} IS NULL"
        elif f.required_for:
            nulls[f.name] = f"{f.name} IS NULL AND event_type IN {literal_list(sorted(f.required_for))}"
    for name, values in ACCEPTED_VALUES.items():
        unexpected[name] = f"{name} IS NOT NULL AND {name} NOT IN {literal_list(values)}"
    price = {"negative_price_rows": "price < 0", "quantity_below_one_rows": "quantity < 1"}
    counts = [f"count(*) FILTER (WHERE {cond})" for cond in [*nulls.values(), *unexpected.values(), *price.values()]]
    values = iter(_one(session, f"SELECT {', '.join(counts)} FROM ({rows.cleaned})"))
    null_counts = {name: next(values) for name in nulls}
    unexpected_counts = {name: next(values) for name in unexpected}
    return {
        "required_fields_not_null": {"null_counts": {n: v for n, v in null_counts.items() if v}},
        "accepted_values": {"unexpected": {n: v for n, v in unexpected_counts.items() if v}},
        "price_and_quantity_valid": {name: next(values) for name in price},
    }


def _raw_reconciles(session: LakeSession, rows: BatchRows) -> dict:
    """Every raw line is exactly one of: a cleaned row, a quarantine row, or a duplicate of a cleaned event.

    Counted independently of the cleaning code, by lineage (file, line): a raw line neither in
    cleaned nor in quarantine must carry an event_id that cleaned_events holds; anything else is lost.
    """
    con = session.con
    # the unplaced lines found from the key columns alone, then read (only if there are any) for their ids
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _unplaced_keys AS
        WITH c AS (SELECT _source_file AS f, _line_number AS n FROM ({rows.cleaned})),
             q AS (SELECT source_file AS f, line_number AS n FROM ({rows.quarantined}))
        SELECT source_file AS f, line_number AS n
        FROM ({rows.raw}) AS r ANTI JOIN c ON r.source_file = c.f AND r.line_number = c.n
                              ANTI JOIN q ON r.source_file = q.f AND r.line_number = q.n
    """)
    (unplaced,) = _one(session, "SELECT count(*) > 0 FROM _unplaced_keys")
    lines = rows.raw if unplaced else f"SELECT * FROM ({rows.raw}) AS r WHERE false"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _unplaced AS
        SELECT source_file AS f, line_number AS n,
               json_extract_string(try_cast(line AS JSON), '$.event_id') AS event_id,
               date_trunc('hour', try_cast(json_extract_string(try_cast(line AS JSON), '$.event_time') AS TIMESTAMPTZ))
                   AS hour
        FROM ({lines}) AS r SEMI JOIN _unplaced_keys AS u ON r.source_file = u.f AND r.line_number = u.n
    """)
    con.execute("DROP TABLE _unplaced_keys")
    # A duplicate's event is in cleaned_events: in this hour, or (arrived very late) at its own hour.
    hours = {rows.hour} | {
        h.replace(tzinfo=None)
        for (h,) in con.execute("SELECT DISTINCT hour FROM _unplaced WHERE hour IS NOT NULL").fetchall()
    }
    kept = " UNION ALL ".join(
        f"SELECT event_id FROM ({session.scan(CLEANED, h, h + timedelta(hours=1))})" for h in sorted(hours)
    )
    row = _one(
        session,
        f"""
        WITH c AS (SELECT _source_file AS f, _line_number AS n FROM ({rows.cleaned})),
             q AS (SELECT source_file AS f, line_number AS n FROM ({rows.quarantined})),
             r AS (SELECT source_file AS f, line_number AS n FROM ({rows.raw}))
        SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM c), (SELECT count(*) FROM q),
               (SELECT count(*) FROM _unplaced WHERE event_id IN (
                   SELECT event_id FROM ({kept}) WHERE event_id IN (SELECT event_id FROM _unplaced)
               )),
               (SELECT count(*) FROM _unplaced),
               (SELECT count(*) FROM c SEMI JOIN q USING (f, n)),
               (SELECT count(*) FROM c ANTI JOIN r USING (f, n)) + (SELECT count(*) FROM q ANTI JOIN r USING (f, n))
    """,
    )
    con.execute("DROP TABLE _unplaced")
    return dict(zip(RECONCILE_COUNTS, row, strict=True))


def _tally(session: LakeSession, rows: BatchRows) -> dict:
    return {
        "unique_event_id": _unique_event_id(session, rows),
        **_row_rules(session, rows),
        "raw_reconciles": _raw_reconciles(session, rows),
    }


def _hour_batches(session: LakeSession, hour: datetime) -> list[tuple[Batch | None, BatchRows | None]]:
    """The batches of one hour, each with its rows when it still has to be counted (else None).

    A cleaned batch is paired with the quarantine batch made from the same raw parts. An hour whose
    batches cannot be paired (no trustworthy manifest, or a partition rewritten by hand) is counted
    whole, as one pseudo-batch (None) whose tallies are not stored.
    """
    cleaned = session.batches(CLEANED, hour)
    quarantine = {frozenset(b.inputs): b for b in session.batches(QUARANTINED, hour) or []}
    if not (cleaned and all(b.inputs and frozenset(b.inputs) in quarantine for b in cleaned)):
        one_hour = (hour, hour + timedelta(hours=1))
        whole = BatchRows(
            hour,
            cleaned=session.scan(CLEANED, *one_hour),
            earlier_ids="SELECT NULL::VARCHAR WHERE false",
            raw=session.scan("raw_events", *one_hour),
            quarantined=session.scan(QUARANTINED, *one_hour),
        )
        return [(None, whole)]
    listed, earlier = [], []
    for b in cleaned:
        rows = None
        if stored_tallies(b) is None:
            rows = BatchRows(
                hour,
                cleaned=session.scan_parts(CLEANED, {hour: b.parts}),
                earlier_ids=f"SELECT event_id FROM ({session.scan_parts(CLEANED, {hour: earlier})})",
                raw=session.scan_parts("raw_events", {hour: sorted(b.inputs)}),
                quarantined=session.scan_parts(QUARANTINED, {hour: quarantine[frozenset(b.inputs)].parts}),
            )
        listed.append((b, rows))
        earlier = [*earlier, *b.parts]
    return listed


def _add(tallies: list[dict]) -> dict:
    """Sum tallies key by key (nested dicts of counts too), dropping zero counts inside dicts."""
    total: dict = {}
    for t in tallies:
        for key, value in t.items():
            if isinstance(value, dict):
                total[key] = dict(Counter(total.get(key, {})) + Counter(value))
            else:
                total[key] = total.get(key, 0) + value
    return total


def window_tallies(session: LakeSession, start: datetime, end: datetime, neighbour_hours: int) -> dict[str, dict]:
    """Per check, the tallies of [start, end) added up over its hours and their batches; the batches
    not counted yet are counted now and their tallies stored with them."""
    by_hour = {hour: _hour_batches(session, hour) for hour in hours_in(start, end)}
    counted = [rows for listed in by_hour.values() for _, rows in listed if rows is not None]
    across = iter(_across_hours(session, counted, neighbour_hours))
    tallies = []
    for hour, listed in by_hour.items():
        fresh = []
        for batch, rows in listed:
            if rows is None:  # counted before
                tallies.append(stored_tallies(batch))
                continue
            tally = _tally(session, rows)
            tally["unique_event_id"]["ids_also_in_neighbouring_hours"] = next(across)
            tallies.append(tally)
            if batch is not None:
                fresh.append(replace(batch, notes={TALLIES: tally}))
        if fresh:
            session.record_notes(CLEANED, hour, fresh)
    return {name: _add([t[name] for t in tallies]) for name in tallies[0]} if tallies else {}


def unique_event_id(session: LakeSession, start: datetime, end: datetime, neighbour_hours: int) -> AssetCheckResult:
    tallies = window_tallies(session, start, end, neighbour_hours)
    return _unique_event_id_result(tallies, _repeated_ids(session, tallies, start, end, neighbour_hours))


def required_fields_not_null(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    return _required_fields_result(window_tallies(session, start, end, DEFAULT_LATE_ARRIVAL_HOURS))


def accepted_values(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    return _accepted_values_result(window_tallies(session, start, end, DEFAULT_LATE_ARRIVAL_HOURS))


def price_and_quantity_valid(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    return _price_and_quantity_result(window_tallies(session, start, end, DEFAULT_LATE_ARRIVAL_HOURS))


def raw_reconciles(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    return _raw_reconciles_result(window_tallies(session, start, end, DEFAULT_LATE_ARRIVAL_HOURS))


SHOWN_IDS = 5  # repeated event_ids named in a failed unique_event_id check


def _repeated_ids(session: LakeSession, t: dict, start: datetime, end: datetime, neighbour_hours: int) -> list[dict]:
    """A few event_ids of the window that are in more than one row, each with every event_time it has
    nearby; only queried when the tallies found some (so a passing check costs nothing more)."""
    counts = t.get("unique_event_id", {})
    if not counts.get("duplicate_rows") and not counts.get("ids_also_in_neighbouring_hours"):
        return []
    near = timedelta(hours=neighbour_hours)
    rows = session.con.execute(f"""
        WITH mine AS (SELECT event_id, event_hour FROM ({session.scan(CLEANED, start, end)})),
             around AS (
                 SELECT event_id, event_hour, event_time FROM ({session.scan(CLEANED, start - near, end + near)})
                 WHERE event_id IN (SELECT event_id FROM mine)
             )
        SELECT event_id, list(strftime(event_time, '%Y-%m-%dT%H:%M:%S.%g') ORDER BY event_time) AS times
        FROM around
        WHERE event_id IN (  -- ids with another row (their own is in ``around`` too) within the neighbourhood
            SELECT m.event_id FROM mine AS m JOIN around AS a ON a.event_id = m.event_id
            WHERE a.event_hour BETWEEN m.event_hour - INTERVAL {int(neighbour_hours)} HOUR
                                   AND m.event_hour + INTERVAL {int(neighbour_hours)} HOUR
            GROUP BY m.event_id, m.event_hour HAVING count(*) > 1
        )
        GROUP BY event_id ORDER BY event_id LIMIT {SHOWN_IDS}
    """).fetchall()
    return [{"event_id": event_id, "event_times": times} for event_id, times in rows]


def _unique_event_id_result(t: dict, examples: list[dict] | None = None) -> AssetCheckResult:
    counts = {k: 0 for k in ("rows", "duplicate_rows", "ids_also_in_neighbouring_hours")} | t.get("unique_event_id", {})
    passed = counts["duplicate_rows"] == 0 and counts["ids_also_in_neighbouring_hours"] == 0
    description = None
    if counts["ids_also_in_neighbouring_hours"]:
        description = (
            f"{counts['ids_also_in_neighbouring_hours']} rows have an event_id that another hour nearby also holds, "
            "with another event_time: the same event delivered twice with different times (a duplicate has the same "
            "time, so it lands in the same hour and is dropped there). Each hour keeps its delivery, whatever runs "
            "processed them, so the marts would count the event twice: remove or correct the wrong delivery at the "
            "source, then re-materialize both hours."
        )
    elif counts["duplicate_rows"]:
        description = f"{counts['duplicate_rows']} rows repeat an event_id within their hour (changed by hand?)"
    metadata: dict = dict(counts)
    if examples:
        metadata["repeated_event_ids"] = MetadataValue.json(examples)
    return AssetCheckResult(check_name="unique_event_id", passed=passed, metadata=metadata, description=description)


def _required_fields_result(t: dict) -> AssetCheckResult:
    nulls = t.get("required_fields_not_null", {}).get("null_counts", {})
    checked = sum(1 for f in EVENT_FIELDS if f.required_for)
    return AssetCheckResult(
        check_name="required_fields_not_null",
        passed=not nulls,
        metadata={
            "null_counts": MetadataValue.json(nulls),
            "null_values": sum(nulls.values()),
            "fields_checked": checked,
        },
    )


def _accepted_values_result(t: dict) -> AssetCheckResult:
    bad = t.get("accepted_values", {}).get("unexpected", {})
    return AssetCheckResult(
        check_name="accepted_values",
        passed=not bad,
        metadata={"unexpected": MetadataValue.json(bad), "unexpected_values": sum(bad.values())},
    )


def _price_and_quantity_result(t: dict) -> AssetCheckResult:
    counts = {"negative_price_rows": 0, "quantity_below_one_rows": 0} | t.get("price_and_quantity_valid", {})
    return AssetCheckResult(
        check_name="price_and_quantity_valid",
        passed=counts["negative_price_rows"] == 0 and counts["quantity_below_one_rows"] == 0,
        metadata=counts,
    )


def _raw_reconciles_result(t: dict) -> AssetCheckResult:
    c = dict.fromkeys(RECONCILE_COUNTS, 0) | t.get("raw_reconciles", {})
    lost = c["unplaced_rows"] - c["duplicates_dropped"]
    return AssetCheckResult(
        check_name="raw_reconciles",
        passed=lost == 0
        and c["rows_in_both"] == 0
        and c["rows_without_raw_line"] == 0
        and c["raw_rows"] == c["cleaned_rows"] + c["quarantined_rows"] + c["duplicates_dropped"],
        metadata={
            "raw_rows": c["raw_rows"],
            "cleaned_rows": c["cleaned_rows"],
            "quarantined_rows": c["quarantined_rows"],
            "duplicates_dropped": c["duplicates_dropped"],
            "lost_rows": lost,
            "rows_in_both": c["rows_in_both"],
            "rows_without_raw_line": c["rows_without_raw_line"],
        },
    )


def quarantine_ratio(
    session: LakeSession,
    start: datetime,
    end: datetime,
    max_ratio: float,
    min_rows: int = CheckThresholds.min_quarantined_rows,
) -> AssetCheckResult:
    tallies = window_tallies(session, start, end, DEFAULT_LATE_ARRIVAL_HOURS)
    return _quarantine_ratio_result(tallies, max_ratio, min_rows)


def _quarantine_ratio_result(t: dict, max_ratio: float, min_rows: int) -> AssetCheckResult:
    """From the reconciliation counts: the raw lines and the quarantined ones of the window.

    An exceeded ratio fails (and blocks) once at least ``min_rows`` rows are quarantined; below that it
    is a warning, which does not block.
    """
    reconciled = t.get("raw_reconciles", {})
    raw_n, q_n = reconciled.get("raw_rows", 0), reconciled.get("quarantined_rows", 0)
    ratio = q_n / raw_n if raw_n else 0.0
    metadata = {
        "quarantined_rows": q_n,
        "raw_rows": raw_n,
        "ratio": ratio,
        "threshold": max_ratio,
        "min_quarantined_rows_to_block": min_rows,
    }
    if ratio > max_ratio and q_n < min_rows:
        return AssetCheckResult(
            check_name="quarantine_ratio",
            passed=False,
            severity=AssetCheckSeverity.WARN,
            metadata=metadata,
            description=(
                f"{q_n} of {raw_n} lines quarantined ({ratio:.1%}, over {max_ratio:.1%}), but fewer than {min_rows}: "
                "too few to block on a ratio"
            ),
        )
    return AssetCheckResult(check_name="quarantine_ratio", passed=ratio <= max_ratio, metadata=metadata)


def volume_anomaly(session: LakeSession, start: datetime, end: datetime, t: CheckThresholds) -> AssetCheckResult:
    """Compare the window's row count with the same hours on each of the trailing days that have data."""
    current = session.count(CLEANED, start, end)
    history = [
        n
        for d in range(1, t.volume_history_days + 1)
        if (n := session.count(CLEANED, start - timedelta(days=d), end - timedelta(days=d))) > 0
    ]
    meta: dict = {"rows": current, "trailing_days_with_data": len(history)}
    if len(history) < t.volume_min_history_days:
        meta["note"] = f"needs {t.volume_min_history_days} trailing days with data; found {len(history)}"
        return AssetCheckResult(
            check_name="volume_anomaly", passed=True, severity=AssetCheckSeverity.WARN, metadata=meta
        )
    median = sorted(history)[len(history) // 2]
    deviation = abs(current - median) / median
    meta.update({"trailing_median": median, "deviation": deviation, "tolerance": t.volume_tolerance})
    return AssetCheckResult(
        check_name="volume_anomaly",
        passed=deviation <= t.volume_tolerance,
        severity=AssetCheckSeverity.WARN,
        metadata=meta,
    )


def run_all(session: LakeSession, start: datetime, end: datetime, t: CheckThresholds, late_hours: int):
    """Every check on cleaned_events for the window, in CHECK_SPECS order.

    A result judges the run's whole window (checks are not partitioned); each says how many hours
    that was (``window_hours``), so its counts plot comparably over time.
    """
    neighbour_hours = max(late_hours, 1)
    tallies = window_tallies(session, start, end, neighbour_hours)
    hours = len(hours_in(start, end))
    for result in (
        _unique_event_id_result(tallies, _repeated_ids(session, tallies, start, end, neighbour_hours)),
        _required_fields_result(tallies),
        _accepted_values_result(tallies),
        _price_and_quantity_result(tallies),
        _raw_reconciles_result(tallies),
        _quarantine_ratio_result(tallies, t.max_quarantine_ratio, t.min_quarantined_rows),
        volume_anomaly(session, start, end, t),
    ):
        yield AssetCheckResult(
            check_name=result.check_name,
            passed=result.passed,
            severity=result.severity,
            description=result.description,
            metadata={**result.metadata, "window_hours": hours},
        )
