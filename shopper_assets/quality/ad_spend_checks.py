"""Checks on a window of ad spend, computed on what the lake holds after the write.

``ad_spend_reconciles`` and ``ad_spend_unique_key`` are blocking (dbt must not build spend marts on
lost or double-counted rows); ``ad_spend_quarantined_rows`` warns, with the counts by reason, so a
bad file is seen without stopping the marts.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue

from shopper_assets.storage.lake_store import LakeSession

AD_SPEND = "ad_spend"
QUARANTINE = "ad_spend_quarantine"
SHOWN_FILES = 20  # files listed in the metadata of a failed reconciliation

AD_SPEND_CHECK_SPECS = [
    AssetCheckSpec(
        "ad_spend_reconciles",
        asset=AD_SPEND,
        blocking=True,
        description="Per landed file: its data lines = rows kept + rows quarantined, every line exactly once.",
    ),
    AssetCheckSpec(
        "ad_spend_unique_key",
        asset=AD_SPEND,
        blocking=True,
        description="One row per (spend_date, campaign_id, ad_id), with no part of the key null.",
    ),
    AssetCheckSpec(
        "ad_spend_quarantined_rows",
        asset=AD_SPEND,
        blocking=False,
        description="Warns when any landed row was quarantined; counts by reason in the metadata.",
    ),
]


def ad_spend_reconciles(
    session: LakeSession, start: datetime, end: datetime, lines_by_file: dict[str, int]
) -> AssetCheckResult:
    """``lines_by_file``: the lines counted per file when the files were read (see lake/ad_spend.py).

    Compared, file by file, with the rows of the window that the lake tables hold now, by lineage
    (``_source_file``, ``_line_number``): a line in neither table, in both, twice, or rows of a file
    that was not read all fail the check.
    """
    con = session.con
    con.register("_ad_expected", pa.table({"f": list(lines_by_file), "lines": list(lines_by_file.values())}))
    try:
        rows = con.execute(f"""
            WITH placed AS (
                SELECT _source_file AS f, _line_number AS n, 1 AS kept FROM ({session.scan(AD_SPEND, start, end)})
                UNION ALL
                SELECT _source_file, _line_number, 0 FROM ({session.scan(QUARANTINE, start, end)})
            ),
            per_file AS (
                SELECT f, sum(kept) AS kept, count(*) - sum(kept) AS quarantined, count(*) - count(DISTINCT n) AS twice
                FROM placed GROUP BY f
            )
            SELECT coalesce(e.f, p.f) AS file, coalesce(e.lines, 0), coalesce(p.kept, 0),
                   coalesce(p.quarantined, 0), coalesce(p.twice, 0), e.f IS NULL AS not_read
            FROM _ad_expected AS e FULL JOIN per_file AS p ON e.f = p.f
            ORDER BY file
        """).fetchall()
    finally:
        con.unregister("_ad_expected")
    wrong = [r for r in rows if r[1] != r[2] + r[3] or r[4] or r[5]]
    return AssetCheckResult(
        check_name="ad_spend_reconciles",
        passed=not wrong,
        metadata={
            "files": len(rows),
            "lines": sum(r[1] for r in rows),
            "kept_rows": sum(int(r[2]) for r in rows),
            "quarantined_rows": sum(int(r[3]) for r in rows),
            "lines_placed_twice": sum(int(r[4]) for r in rows),
            "files_not_reconciled": len(wrong),
            "not_reconciled": MetadataValue.json(
                [
                    {"file": f, "lines": n, "kept": int(k), "quarantined": int(q), "twice": int(t), "not_read": x}
                    for f, n, k, q, t, x in wrong[:SHOWN_FILES]
                ]
            ),
        },
    )


def ad_spend_unique_key(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    rows, repeated, null_keys = _one(
        session,
        f"""SELECT count(*), count(*) - count(DISTINCT (spend_date, campaign_id, ad_id)),
                   count(*) FILTER (WHERE spend_date IS NULL OR campaign_id IS NULL OR ad_id IS NULL)
            FROM ({session.scan(AD_SPEND, start, end)})""",
    )
    return AssetCheckResult(
        check_name="ad_spend_unique_key",
        passed=repeated == 0 and null_keys == 0,
        metadata={"rows": rows, "repeated_keys": repeated, "rows_with_null_key": null_keys},
    )


def ad_spend_quarantined_rows(session: LakeSession, start: datetime, end: datetime) -> AssetCheckResult:
    by_reason = dict(
        session.con.execute(
            f"SELECT reason, count(*) FROM ({session.scan(QUARANTINE, start, end)}) GROUP BY reason ORDER BY reason"
        ).fetchall()
    )
    (kept,) = _one(session, f"SELECT count(*) FROM ({session.scan(AD_SPEND, start, end)})")
    quarantined = sum(by_reason.values())
    return AssetCheckResult(
        check_name="ad_spend_quarantined_rows",
        passed=quarantined == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "quarantined_rows": quarantined,
            "kept_rows": kept,
            "by_reason": MetadataValue.json(by_reason),
        },
    )


def _one(session: LakeSession, sql: str) -> tuple:
    return session.con.execute(sql).fetchall()[0]


def run_all(session: LakeSession, start: datetime, end: datetime, lines_by_file: dict[str, int]):
    """Every ad-spend check on [start, end), in AD_SPEND_CHECK_SPECS order."""
    yield ad_spend_reconciles(session, start, end, lines_by_file)
    yield ad_spend_unique_key(session, start, end)
    yield ad_spend_quarantined_rows(session, start, end)
