"""The demo's check summary: each lake check, the dbt tests grouped by model, and every check that
did not pass spelled out with its reason."""

from __future__ import annotations

from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, MetadataValue

from shopper_assets.demo import print_check_summary


def check(asset: str, name: str, passed: bool = True, **extra) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(asset_key=AssetKey(asset), check_name=name, passed=passed, **extra)


def test_failures_are_spelled_out_and_dbt_tests_grouped_by_model():
    said: list[str] = []
    print_check_summary(
        [
            check("cleaned_events", "unique_event_id"),
            check("cleaned_events", "unique_event_id", passed=False, description="3 event_ids appear twice"),
            check(
                "cleaned_events",
                "volume_anomaly",
                passed=False,
                severity=AssetCheckSeverity.WARN,
                metadata={"reason": MetadataValue.text("2,000 rows, 5x the median")},
            ),
            check("fct_orders", "unique_fct_orders_order_id"),
            check(
                "fct_orders",
                "not_null_fct_orders_order_id",
                passed=False,
                metadata={"dagster_dbt/failed_row_count": MetadataValue.int(4)},
            ),
            check("kpi_daily", "unique_kpi_daily_event_date"),
        ],
        said.append,
    )
    text = "\n".join(said)
    assert "Asset checks: 3 passed, 3 not passed" in text
    assert "    [FAIL] cleaned_events.unique_event_id" in said  # one line per check, worst result
    assert "    [WARN] cleaned_events.volume_anomaly" in said
    assert "dbt tests (3) by model:" in text
    assert "    fct_orders  1 of 2 passed" in said and "    kpi_daily   1 of 1 passed" in said
    assert "    [FAIL] cleaned_events.unique_event_id: 3 event_ids appear twice" in said
    assert "    [WARN] cleaned_events.volume_anomaly: reason 2,000 rows, 5x the median" in said
    assert "    [FAIL] fct_orders.not_null_fct_orders_order_id: dagster_dbt/failed_row_count 4" in said
