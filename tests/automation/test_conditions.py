"""Declarative automation requests a day's whole dbt graph, whatever lands while dbt runs."""

from __future__ import annotations

from dagster import AssetKey, AssetMaterialization, DagsterInstance, evaluate_automation_conditions

from shopper_assets.definitions import defs
from shopper_assets.transform.assets import LAYERS  # the dbt models' groups

DAY = "2026-11-20"
DBT_MODELS = {spec.key for spec in defs.resolve_all_asset_specs() if spec.group_name in LAYERS}


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
