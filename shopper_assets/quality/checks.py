"""Checks on a window of cleaned_events, computed with SQL on the lake session.

Each function returns an ``AssetCheckResult`` so the cleaning step can yield it, and so tests can
call it directly on data built to fail. Checks whose failure means wrong numbers downstream are
ERROR and blocking (dbt does not run on top of them); the volume anomaly is a WARN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue

from shopper_assets.contract.events import ACCEPTED_VALUES, ALL, EVENT_FIELDS
from shopper_assets.storage.lake_store import LakeSession

CLEANED = "cleaned_events"


@dataclass(frozen=True)
class CheckThresholds:
    max_quarantine_ratio: float = 0.05
    volume_history_days: int = 7
    volume_min_history_days: int = 3
    volume_tolerance: float = 0.5  # flag when the window is more than 50% off the trailing median


CHECK_SPECS = [
    AssetCheckSpec(
        "unique_event_id",
        asset=CLEANED,
        blocking=True,
        description="event_id is unique in the window and absent from neighbouring hours.",
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
        description="Share of raw lines quarantined stays under the configured threshold.",
    ),
    AssetCheckSpec(
        "volume_anomaly",
        asset=CLEANED,
        blocking=False,
        description="Event volume of the window is within tolerance of the same hours on trailing days.",
    ),
]


def _one(session: LakeSession, sql: str):
    return session.con.execute(sql).fetchone()


def unique_event_id(session: LakeSession, start: datetime, end: datetime, neighbour_hours: int) -> AssetCheckResult:
    cleaned = session.scan(CLEANED, start, end)
    total, distinct = _one(session, f"SELECT count(*), count(DISTINCT event_id) FROM ({cleaned})")
    around = " UNION ALL ".join(
        f"SELECT event_id FROM ({session.scan(CLEANED, a, b)})"
        for a, b in ((start - timedelta(hours=neighbour_hours), start), (end, end + timedelta(hours=neighbour_hours)))
    )
    across = _one(session, f"SELECT count(*) FROM ({cleaned}) WHERE event_id IN ({around})")[0]
    dupes = total - distinct
    return AssetCheckResult(
        check_name="unique_event_id",
        passed=dupes == 0 and across == 0,
        metadata={"rows": total, "duplicate_rows": dupes, "ids_also_in_neighbouring_hours": across},
    )


def required_fields_not_null(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    cleaned = session.scan(CLEANED, start, end)
    exprs = []
    for f in EVENT_FIELDS:
        if not f.required_for:
            continue
        cond = (
            f"{f.name} IS NULL"
            if f.required_for == ALL
            else (f"{f.name} IS NULL AND event_type IN ({', '.join(repr(t) for t in sorted(f.required_for))})")
        )
        exprs.append(f"count(*) FILTER (WHERE {cond}) AS {f.name}")
    row = session.con.execute(f"SELECT {', '.join(exprs)} FROM ({cleaned})")
    names = [d[0] for d in row.description]
    nulls = {n: v for n, v in zip(names, row.fetchone(), strict=True) if v}
    return AssetCheckResult(
        check_name="required_fields_not_null",
        passed=not nulls,
        metadata={"null_counts": MetadataValue.json(nulls), "fields_checked": len(names)},
    )


def accepted_values(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    cleaned = session.scan(CLEANED, start, end)
    exprs = [
        f"count(*) FILTER (WHERE {name} IS NOT NULL AND {name} NOT IN ({', '.join(repr(v) for v in values)})) AS {name}"
        for name, values in ACCEPTED_VALUES.items()
    ]
    row = session.con.execute(f"SELECT {', '.join(exprs)} FROM ({cleaned})")
    names = [d[0] for d in row.description]
    bad = {n: v for n, v in zip(names, row.fetchone(), strict=True) if v}
    return AssetCheckResult(
        check_name="accepted_values", passed=not bad, metadata={"unexpected": MetadataValue.json(bad)}
    )


def price_and_quantity_valid(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    cleaned = session.scan(CLEANED, start, end)
    negative, bad_qty = _one(
        session, f"SELECT count(*) FILTER (WHERE price < 0), count(*) FILTER (WHERE quantity < 1) FROM ({cleaned})"
    )
    return AssetCheckResult(
        check_name="price_and_quantity_valid",
        passed=negative == 0 and bad_qty == 0,
        metadata={"negative_price_rows": negative, "quantity_below_one_rows": bad_qty},
    )


def raw_reconciles(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    """Every raw line is exactly one of: a cleaned row, a quarantine row, or a duplicate of a cleaned event.

    Counted independently of the cleaning code, by lineage (file, line): a raw line neither in
    cleaned nor in quarantine must carry an event_id that cleaned_events holds; anything else is lost.
    """
    raw = session.scan("raw_events", start, end)
    cleaned = session.scan(CLEANED, start, end)
    quarantined = session.scan("quarantined_events", start, end)
    con = session.con
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _unplaced AS
        WITH c AS (SELECT _source_file AS f, _line_number AS n FROM ({cleaned})),
             q AS (SELECT source_file AS f, line_number AS n FROM ({quarantined}))
        SELECT source_file AS f, line_number AS n,
               json_extract_string(try_cast(line AS JSON), '$.event_id') AS event_id,
               date_trunc('hour', try_cast(json_extract_string(try_cast(line AS JSON), '$.event_time') AS TIMESTAMPTZ))
                   AS hour
        FROM ({raw}) AS r ANTI JOIN c ON r.source_file = c.f AND r.line_number = c.n
                         ANTI JOIN q ON r.source_file = q.f AND r.line_number = q.n
    """)
    # A duplicate's event is in cleaned_events: in this window, or (arrived very late) at its own hour.
    hours = [
        h.replace(tzinfo=None)
        for (h,) in con.execute("SELECT DISTINCT hour FROM _unplaced WHERE hour IS NOT NULL").fetchall()
    ]
    kept = " UNION ALL ".join(
        [f"SELECT event_id FROM ({cleaned})"]
        + [
            f"SELECT event_id FROM ({session.scan(CLEANED, h, h + timedelta(hours=1))})"
            for h in hours
            if not (start <= h.replace(tzinfo=None) < end)
        ]
    )
    row = _one(
        session,
        f"""
        WITH c AS (SELECT _source_file AS f, _line_number AS n FROM ({cleaned})),
             q AS (SELECT source_file AS f, line_number AS n FROM ({quarantined})),
             r AS (SELECT source_file AS f, line_number AS n FROM ({raw}))
        SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM c), (SELECT count(*) FROM q),
               (SELECT count(*) FROM _unplaced WHERE event_id IN ({kept})),
               (SELECT count(*) FROM _unplaced),
               (SELECT count(*) FROM c SEMI JOIN q USING (f, n)),
               (SELECT count(*) FROM c ANTI JOIN r USING (f, n)) + (SELECT count(*) FROM q ANTI JOIN r USING (f, n))
    """,
    )
    con.execute("DROP TABLE _unplaced")
    raw_n, cleaned_n, quarantined_n, dup_n, unplaced_n, both_n, phantom_n = row
    lost = unplaced_n - dup_n
    return AssetCheckResult(
        check_name="raw_reconciles",
        passed=lost == 0 and both_n == 0 and phantom_n == 0 and raw_n == cleaned_n + quarantined_n + dup_n,
        metadata={
            "raw_rows": raw_n,
            "cleaned_rows": cleaned_n,
            "quarantined_rows": quarantined_n,
            "duplicates_dropped": dup_n,
            "lost_rows": lost,
            "rows_in_both": both_n,
            "rows_without_raw_line": phantom_n,
        },
    )


def quarantine_ratio(session: LakeSession, start: datetime, end: datetime, max_ratio: float) -> AssetCheckResult:
    raw_n = session.count("raw_events", start, end)
    q_n = session.count("quarantined_events", start, end)
    ratio = q_n / raw_n if raw_n else 0.0
    return AssetCheckResult(
        check_name="quarantine_ratio",
        passed=ratio <= max_ratio,
        metadata={"quarantined_rows": q_n, "raw_rows": raw_n, "ratio": ratio, "threshold": max_ratio},
    )


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
    """Every check on cleaned_events for the window, in CHECK_SPECS order."""
    yield unique_event_id(session, start, end, neighbour_hours=max(late_hours, 1))
    yield required_fields_not_null(session, start, end)
    yield accepted_values(session, start, end)
    yield price_and_quantity_valid(session, start, end)
    yield raw_reconciles(session, start, end)
    yield quarantine_ratio(session, start, end, t.max_quarantine_ratio)
    yield volume_anomaly(session, start, end, t)
