"""The incident rules on their own: one alert when an incident opens, none while it lasts, one
"resolved" when what clears it happens (and only that)."""

from __future__ import annotations

from shopper_assets.operations.incidents import (
    FIRING,
    RESOLVED,
    Alert,
    FinishedRun,
    Incident,
    IncidentBook,
    covers,
    partition_label,
)

LAKE = ("cleaned_events", "quarantined_events", "raw_events")
HOUR = ("2026-11-20-13:00", "2026-11-20-13:00")
DAY_OF_HOURS = ("2026-11-20-00:00", "2026-11-20-23:00")


def run(run_id: str, success: bool, window=HOUR, assets=LAKE, failed=(), passed=(), error="") -> FinishedRun:
    return FinishedRun(run_id, success, assets, window, f"http://ui/runs/{run_id}", failed, passed, error)


def test_partition_ranges():
    assert partition_label(None) is None and partition_label(HOUR) == "2026-11-20-13:00"
    assert partition_label(DAY_OF_HOURS) == "2026-11-20-00:00...2026-11-20-23:00"
    assert covers(DAY_OF_HOURS, HOUR) and not covers(HOUR, DAY_OF_HOURS)
    assert not covers(("2026-11-20", "2026-11-20"), HOUR)  # daily keys never cover hourly ones
    assert covers(None, None) and not covers(None, HOUR) and not covers(HOUR, None)


def test_a_failed_check_alerts_once_and_only_a_run_that_passes_it_resolves():
    book = IncidentBook()
    failed = run("r1", False, failed=("cleaned_events:quarantine_ratio",))
    (alert,) = book.run_finished(failed)
    assert (alert.kind, alert.status, alert.asset, alert.partition) == (
        "check_failed",
        FIRING,
        "cleaned_events",
        HOUR[0],
    )
    assert alert.incident == "check_failed:cleaned_events:2026-11-20-13:00" and alert.url == "http://ui/runs/r1"
    assert book.run_finished(run("r2", False, failed=("cleaned_events:quarantine_ratio",))) == []  # retried, same
    assert book.open[alert.incident].repeats == 1

    assert book.run_finished(run("r3", True, window=("2026-11-20-14:00",) * 2, passed=failed.failed_checks)) == []
    assert book.run_finished(run("r4", True, passed=())) == []  # succeeded without running the check
    (resolved,) = book.run_finished(run("r5", True, window=DAY_OF_HOURS, passed=failed.failed_checks))
    assert (resolved.status, resolved.run_id, resolved.incident) == (RESOLVED, "r5", alert.incident)
    assert resolved.partition == HOUR[0] and book.open == {}


def test_checks_of_two_assets_are_two_incidents():
    alerts = IncidentBook().run_finished(
        run("r1", False, window=("2026-11-20",) * 2, failed=("kpi_daily:unique_event_date", "fct_events:not_null"))
    )
    assert sorted(a.incident for a in alerts) == [
        "check_failed:fct_events:2026-11-20",
        "check_failed:kpi_daily:2026-11-20",
    ]


def test_a_failed_run_alerts_with_its_error_and_a_run_of_the_same_work_resolves():
    book = IncidentBook()
    (alert,) = book.run_finished(run("r1", False, error="lake_step: IOException: disk full\n  at line 2"))
    assert alert.kind == "run_failed" and alert.run_id == "r1" and alert.asset is None
    assert alert.message.endswith("failed: lake_step: IOException: disk full")
    assert alert.assets == LAKE
    assert book.run_finished(run("r2", True, assets=("raw_events",))) == []  # less than the failed run's work
    (resolved,) = book.run_finished(run("r3", True))
    assert resolved.status == RESOLVED and not book.open


def test_stale_groups_fire_once_and_resolve_when_all_are_fresh():
    book = IncidentBook()
    url = "http://ui/assets/{}".format
    (alert,) = book.freshness({"lake": ["ad_spend"], "marts": []}, url)
    assert (alert.kind, alert.incident, alert.assets, alert.url) == (
        "stale",
        "stale:lake",
        ("ad_spend",),
        url("ad_spend"),
    )
    assert book.freshness({"lake": ["ad_spend", "raw_events"], "marts": []}, url) == []  # still that incident
    assert book.freshness({"lake": ["raw_events"], "marts": []}, url) == []
    (resolved,) = book.freshness({"lake": [], "marts": []}, url)
    assert resolved.status == RESOLVED and resolved.incident == "stale:lake"
    assert book.freshness({"lake": [], "marts": []}, url) == []


def test_kafka_unavailable_then_behind_then_caught_up():
    book, url = IncidentBook(), "http://ui/assets/landing_events"
    health = {"bootstrap_servers": "k:9092", "lag_threshold": 1000}
    assert book.kafka({**health, "kafka_reachable": True, "consumer_lag": 5, "behind": False}, url) == []
    (down,) = book.kafka({**health, "kafka_reachable": False, "error": "Kafka broker k:9092 unavailable"}, url)
    assert down.kind == "kafka_unavailable" and "k:9092 unavailable" in down.message
    assert book.kafka({**health, "kafka_reachable": False, "error": "again"}, url) == []
    back, behind = book.kafka({**health, "kafka_reachable": True, "consumer_lag": 5000, "behind": True}, url)
    assert (back.kind, back.status, behind.kind, behind.status) == ("kafka_unavailable", RESOLVED, "kafka_lag", FIRING)
    assert "5,000 messages behind (threshold 1,000)" in behind.message
    (caught_up,) = book.kafka({**health, "kafka_reachable": True, "consumer_lag": 10, "behind": False}, url)
    assert caught_up.kind == "kafka_lag" and caught_up.status == RESOLVED


def test_incidents_and_alerts_survive_the_cursor():
    book = IncidentBook()
    (alert,) = book.run_finished(run("r1", False, failed=("cleaned_events:quarantine_ratio",)))
    incident = next(iter(book.open.values()))
    assert Incident.from_json(incident.to_json()) == incident
    assert Alert.from_payload(alert.payload()) == alert
    assert alert.title == "[FIRING] check_failed cleaned_events 2026-11-20-13:00"
    assert alert.text.splitlines() == [alert.title, alert.message, "http://ui/runs/r1"]
