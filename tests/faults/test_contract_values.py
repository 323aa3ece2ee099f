"""Issue 16, item 8: values the contract does not accept are quarantined, and the local lake and
Postgres hold the same values.

* an identifier (``*_id``) that is empty or only white space identifies nothing: ``invalid_value``;
* a string value holding U+0000 (``\\u0000``) cannot be stored by Postgres text: ``invalid_value``;
  no text column holds U+0000 anywhere (a line with a raw NUL byte is quarantined with U+FFFD in
  ``line`` and its exact bytes in ``raw_bytes``), so nothing is replaced on the way to Postgres;
* ``event_time`` must be ISO-8601 with an offset: a time without one, or a date alone, is
  ``invalid_timestamp`` (Z, +hh:mm, +hhmm and +hh are offsets).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from shopper_assets.contract.events import QuarantineReason as R
from tests.conftest import write_landing_file
from tests.faults.lake import run_window
from tests.lake.events import event

H10 = datetime(2026, 11, 20, 10)
H11 = H10 + timedelta(hours=1)

REJECTED = [
    (event(event_id="   "), R.INVALID_VALUE, "event_id is blank"),
    (event(event_id="\t\u3000"), R.INVALID_VALUE, "event_id is blank"),
    (event(session_id=""), R.INVALID_VALUE, "session_id is blank"),
    (event("purchase", order_id=" "), R.INVALID_VALUE, "order_id is blank"),
    (event(brand="acme\u0000corp"), R.INVALID_VALUE, "brand holds a NUL character (U+0000)"),
    (event(event_id="e-\u0000-1"), R.INVALID_VALUE, "event_id holds a NUL character (U+0000)"),
    (event("tele\u0000port"), R.UNKNOWN_EVENT_TYPE, "tele\ufffdport"),
    (json.dumps(event()).replace('"home"', '"ho\x00me"'), R.INVALID_JSON, "not JSON"),
    (event(event_time="2026-11-20T10:15:00"), R.INVALID_TIMESTAMP, "2026-11-20T10:15:00"),
    (event(event_time="2026-11-20T10:15:00.123"), R.INVALID_TIMESTAMP, "2026-11-20T10:15:00.123"),
    (event(event_time="2026-11-20"), R.INVALID_TIMESTAMP, "2026-11-20"),
    (event(event_time="2026-11-20 10:15:00Z"), R.INVALID_TIMESTAMP, "2026-11-20 10:15:00Z"),
]
ACCEPTED = [
    event(event_time="2026-11-20T10:15:00Z"),
    event(event_time="2026-11-20T12:15:00+02:00"),
    event(event_time="2026-11-20T12:15:00.5+0200"),
    event(event_time="2026-11-20T07:15-03"),
    event(user_id=" u-1 "),  # not blank: kept as given
]


def land(data_dir: Path) -> None:
    write_landing_file(data_dir, H10, "values.jsonl.gz", [*ACCEPTED, *(line for line, _, _ in REJECTED)])


def test_values_outside_the_contract_are_quarantined(data_dir: Path):
    land(data_dir)
    run = run_window(data_dir, H10, H11)
    assert {r["event_id"] for r in run.cleaned} == {e["event_id"] for e in ACCEPTED}
    got = [(q["reason"], q["detail"]) for q in run.quarantined]
    assert got == [(str(reason), detail) for _, reason, detail in REJECTED]
    assert all(result.passed for name, result in run.checks.items() if name != "quarantine_ratio")
    for q in run.quarantined:  # no text column holds U+0000
        assert all("\x00" not in (q[c] or "") for c in ("event_id", "detail", "line"))
    raw_nul = run.quarantined[7]
    assert "\ufffd" in raw_nul["line"] and b"\x00" in raw_nul["raw_bytes"]


def test_the_local_lake_and_postgres_hold_the_same_values(data_dir: Path, make_store, pg_url: str):
    land(data_dir)
    local = run_window(data_dir, H10, H11)
    run_window(data_dir, H10, H11, store=make_store())  # the prod store: S3 (moto) and Postgres

    columns = ["source_file", "line_number", "event_id", "reason", "detail", "line", "raw_bytes"]
    with psycopg.connect(pg_url) as conn:
        quarantined = conn.execute(
            f"SELECT {', '.join(columns)} FROM lake.quarantined_events ORDER BY source_file, line_number"
        ).fetchall()
        cleaned = conn.execute("SELECT event_id, user_id, brand FROM lake.cleaned_events ORDER BY event_id").fetchall()
    assert quarantined == [tuple(q[c] for c in columns) for q in local.quarantined]
    assert cleaned == sorted((r["event_id"], r["user_id"], r["brand"]) for r in local.cleaned)


@pytest.mark.parametrize("text", ["2026-11-20T10:15:00", "2026-11-20"])
def test_the_kafka_lander_does_not_route_by_a_time_without_offset(text: str):
    """Routing and cleaning read event_time with one definition: no offset, no hour."""
    import duckdb

    from shopper_assets.contract.event_time import event_time_sql

    with duckdb.connect() as con:
        assert con.execute(f"SELECT {event_time_sql('$1')}", [json.dumps({"event_time": text})]).fetchone() == (None,)
