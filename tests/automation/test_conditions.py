"""Declarative automation requests a day's whole dbt graph, whatever lands while dbt runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import AssetKey, AssetMaterialization, DagsterInstance, evaluate_automation_conditions

from tests.built import defs, shopper_dbt_assets, shopper_history_dbt_assets

DAY = "2026-11-20"
DBT_MODELS = set(shopper_dbt_assets.keys)  # the daily models
HISTORY = set(shopper_history_dbt_assets.keys)  # the whole-history marts


def requested_for_day(result) -> set[AssetKey]:
    return {key for key in DBT_MODELS if DAY in result.get_requested_partitions(key)}


def hour_updated(instance: DagsterInstance, hour: str) -> None:
    instance.report_runless_asset_event(AssetMaterialization("cleaned_events", partition=f"{DAY}-{hour}:00"))


def test_an_updated_hour_requests_every_model_of_its_day_even_mid_run():
    with DagsterInstance.ephemeral() as instance:
        cursor = evaluate_automation_conditions(defs=defs, instance=instance).cursor  # first tick

        hour_updated(instance, "10")
        first = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert requested_for_day(first) == DBT_MODELS
        assert all(first.get_requested_partitions(key) == {DAY} for key in DBT_MODELS)  # only that day

        # While that run builds its models one by one, the next hour lands: one of the day's models
        # has just been materialized when the sensor ticks again.
        instance.report_runless_asset_event(AssetMaterialization("int_user_days", partition=DAY))
        hour_updated(instance, "11")
        second = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested_for_day(second) == DBT_MODELS

        third = evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        assert requested_for_day(third) == set()  # nothing new: nothing requested


def test_whole_history_marts_follow_rebuilt_days_at_most_once_per_window():
    """Rebuilt days request the whole-history marts once; more rebuilds in the same 5-minute window
    wait for the next window; nothing rebuilt, nothing requested."""
    t0 = datetime(2026, 11, 20, 10, 0, 30, tzinfo=UTC)

    def tick(instance, cursor, at):
        result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor, evaluation_time=at)
        return result, {key for key in HISTORY if result.get_num_requested(key)}

    with DagsterInstance.ephemeral() as instance:
        start, requested = tick(instance, None, t0)
        assert requested == set()
        instance.report_runless_asset_event(AssetMaterialization("fct_orders", partition=DAY))
        first, requested = tick(instance, start.cursor, t0 + timedelta(seconds=30))
        assert requested == {AssetKey("customer_ltv")}  # the marts reading fct_orders
        for model in ("fct_order_items", "int_user_days", "kpi_daily", "dim_users"):
            instance.report_runless_asset_event(AssetMaterialization(model, partition=DAY))
        second, requested = tick(instance, first.cursor, t0 + timedelta(seconds=60))
        assert requested == HISTORY - {AssetKey("customer_ltv")}  # customer_ltv was just requested
        instance.report_runless_asset_event(AssetMaterialization("fct_orders", partition="2026-11-19"))
        third, requested = tick(instance, second.cursor, t0 + timedelta(seconds=90))
        assert requested == set()  # a late day, but customer_ltv was requested in this window
        fourth, requested = tick(instance, third.cursor, t0 + timedelta(minutes=5))
        assert requested == {AssetKey("customer_ltv")}  # next window: the late day is followed
        _, requested = tick(instance, fourth.cursor, t0 + timedelta(minutes=10))
        assert requested == set()


def test_landed_ad_spend_rebuilds_the_days_campaign_performance():
    with DagsterInstance.ephemeral() as instance:
        cursor = evaluate_automation_conditions(defs=defs, instance=instance).cursor
        instance.report_runless_asset_event(AssetMaterialization("ad_spend", partition=DAY))
        result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert requested_for_day(result) == {AssetKey("stg_ad_spend"), AssetKey("campaign_performance_daily")}
