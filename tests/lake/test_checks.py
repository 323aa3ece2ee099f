"""Each asset check passes on clean data and fails on data built to fail it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.quality import checks
from shopper_assets.quality.checks import CheckThresholds
from shopper_assets.storage.lake_store import LakeSession, LocalLakeStore
from tests.conftest import write_landing_file
from tests.lake.events import event

H10 = datetime(2026, 11, 20, 10)
H11 = H10 + timedelta(hours=1)


@pytest.fixture
def session(data_dir: Path):
    events = [
        event("page_view", at=H10),
        event("purchase", at=H10),
        event("add_to_cart", at=H10),
        event("ad_click", at=H10),
    ]
    write_landing_file(data_dir, H10, "a.jsonl.gz", events)
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    with store.session() as s:
        ingest_raw(s, LocalLandingZone(data_dir=str(data_dir)), H10, H11, 6)
        clean_window(s, H10, H11)
        yield s


def tamper(s: LakeSession, select: str) -> None:
    """Rewrite the cleaned partition with a SELECT over its current rows (``cleaned``)."""
    s.con.execute(f"CREATE OR REPLACE TEMP TABLE cleaned AS {s.scan('cleaned_events', H10, H11)}")
    s.replace_window("cleaned_events", H10, H11, select)


def test_all_checks_pass_on_clean_data(session: LakeSession):
    results = list(checks.run_all(session, H10, H11, CheckThresholds(), 6))
    assert [r.check_name for r in results] == [spec.name for spec in checks.CHECK_SPECS]
    assert all(r.passed for r in results), [(r.check_name, r.metadata) for r in results if not r.passed]


def test_unique_event_id_fails_on_a_duplicate(session: LakeSession):
    tamper(session, "SELECT * FROM cleaned UNION ALL (SELECT * FROM cleaned LIMIT 1)")
    assert not checks.unique_event_id(session, H10, H11, 6).passed


def test_unique_event_id_fails_when_an_id_is_in_a_neighbouring_hour(session: LakeSession):
    h12 = H10 + timedelta(hours=2)
    session.replace_window(
        "cleaned_events",
        h12,
        h12 + timedelta(hours=1),
        "SELECT * REPLACE (event_hour + INTERVAL 2 HOUR AS event_hour) FROM "
        f"({session.scan('cleaned_events', H10, H11)}) LIMIT 1",
    )
    result = checks.unique_event_id(session, H10, H11, 6)
    assert not result.passed and result.metadata["ids_also_in_neighbouring_hours"].value == 1


def test_required_fields_fail_on_null(session: LakeSession):
    tamper(
        session,
        "SELECT * REPLACE (CASE WHEN event_type = 'purchase' THEN NULL ELSE order_id END AS order_id) FROM cleaned",
    )
    result = checks.required_fields_not_null(session, H10, H11)
    assert not result.passed and result.metadata["null_counts"].value == {"order_id": 1}


def test_required_fields_fail_on_null_user(session: LakeSession):
    tamper(session, "SELECT * REPLACE (NULL AS user_id) FROM cleaned")
    assert not checks.required_fields_not_null(session, H10, H11).passed


def test_accepted_values_fail(session: LakeSession):
    tamper(session, "SELECT * REPLACE ('smartwatch' AS device_type) FROM cleaned")
    result = checks.accepted_values(session, H10, H11)
    assert not result.passed and result.metadata["unexpected"].value == {"device_type": 4}


def test_price_and_quantity_fail(session: LakeSession):
    tamper(session, "SELECT * REPLACE (CASE WHEN price IS NOT NULL THEN -1 END AS price) FROM cleaned")
    assert not checks.price_and_quantity_valid(session, H10, H11).passed
    tamper(session, "SELECT * REPLACE (CASE WHEN quantity IS NOT NULL THEN 0 END AS quantity) FROM cleaned")
    assert not checks.price_and_quantity_valid(session, H10, H11).passed


def test_reconciliation_fails_when_a_row_is_lost(session: LakeSession):
    tamper(session, "SELECT * FROM cleaned WHERE event_type <> 'purchase'")
    result = checks.raw_reconciles(session, H10, H11)
    assert not result.passed and result.metadata["lost_rows"].value == 1


def test_reconciliation_fails_on_a_row_without_raw_line(session: LakeSession):
    tamper(
        session,
        "SELECT * FROM cleaned UNION ALL "
        "(SELECT * REPLACE ('ghost' AS event_id, 999 AS _line_number) FROM cleaned LIMIT 1)",
    )
    result = checks.raw_reconciles(session, H10, H11)
    assert not result.passed and result.metadata["rows_without_raw_line"].value == 1


def test_quarantine_ratio_fails_above_threshold(data_dir: Path):
    write_landing_file(data_dir, H10, "a.jsonl.gz", [event(at=H10), "garbage", "garbage"])
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    with store.session() as s:
        ingest_raw(s, LocalLandingZone(data_dir=str(data_dir)), H10, H11, 6)
        clean_window(s, H10, H11)
        result = checks.quarantine_ratio(s, H10, H11, max_ratio=0.05)
        assert not result.passed and result.metadata["ratio"].value == pytest.approx(2 / 3)
        assert checks.quarantine_ratio(s, H10, H11, max_ratio=0.9).passed


def test_volume_anomaly_fails_on_a_drop_against_trailing_days(data_dir: Path):
    t = CheckThresholds(volume_history_days=7, volume_min_history_days=3, volume_tolerance=0.5)
    for days_ago, n in ((3, 40), (2, 44), (1, 38), (0, 5)):
        h = H10 - timedelta(days=days_ago)
        write_landing_file(data_dir, h, f"d{days_ago}.jsonl.gz", [event(at=h) for _ in range(n)])
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    with store.session() as s:
        for days_ago in (3, 2, 1, 0):
            h = H10 - timedelta(days=days_ago)
            ingest_raw(s, LocalLandingZone(data_dir=str(data_dir)), h, h + timedelta(hours=1), 6)
            clean_window(s, h, h + timedelta(hours=1))
        result = checks.volume_anomaly(s, H10, H11, t)
        assert not result.passed and result.metadata["trailing_median"].value == 40
        yesterday = H10 - timedelta(days=1)
        assert (
            checks.volume_anomaly(s, yesterday, yesterday + timedelta(hours=1), t)
            .metadata["trailing_days_with_data"]
            .value
            == 2
        )  # not enough history: passes with a note
