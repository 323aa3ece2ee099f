"""The Dagster code location: assets, checks, sensors and resources for the environment in SHOPPER_ENV.

Importing this module does nothing but define :func:`defs`: Dagster (``-m shopper_assets.definitions``,
workspace.yaml, ``dagster dev``) calls it when it loads the code location, and only then are the
settings read, the dbt manifest prepared and the definitions built (:func:`build_definitions`).
"""

from typing import NamedTuple

from dagster import (
    AssetDep,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    definitions,
)

from shopper_assets import dagster_fixes
from shopper_assets.automation.conditions import after_daily_models, on_updated_hours, with_upstream_models
from shopper_assets.automation.jobs import history_job, lake_job, marts_job, quality_job
from shopper_assets.automation.kafka_sensor import KafkaResource, kafka_landing_sensor
from shopper_assets.automation.marts_runs import marts_follow_sensor
from shopper_assets.automation.s3_sensor import S3DropsResource, s3_drop_sensor
from shopper_assets.deployments import pools_for, resources_for
from shopper_assets.lake.ad_spend_assets import build_ad_spend_assets
from shopper_assets.lake.assets import build_lake_assets
from shopper_assets.operations import freshness
from shopper_assets.operations.alert_sensor import build_alert_sensor
from shopper_assets.operations.data_quality_asset import build_data_quality_asset
from shopper_assets.operations.destinations import destinations_from
from shopper_assets.partitions import partitions_from
from shopper_assets.run_health import in_process_with_heartbeat
from shopper_assets.settings import Settings
from shopper_assets.transform import DbtModels, build_dbt_assets, build_dbt_project, dbt_resource, ensure_manifest
from shopper_assets.transform.assets import LAKE_HOURS_OF_DAY

#: Daily models that do not read the lake but belong to every day's run: the calendar (a day's row
#: is referenced by the day's facts) and the ad-spend view (the day's campaign performance reads it,
#: and it must exist before the first ad-spend report lands).
TIED_TO_THE_DAY = (AssetKey("dim_dates"), AssetKey("stg_ad_spend"))


class ShopperAssets(NamedTuple):
    """Every asset of the code location, as built from the settings (before automation and freshness)."""

    landing_events: AssetSpec
    lake_step: AssetsDefinition
    landing_ad_spend: AssetSpec
    ad_spend: AssetsDefinition
    dbt: DbtModels
    data_quality: AssetsDefinition


def build_assets(settings: Settings) -> ShopperAssets:
    """The assets over the partitions of ``settings``; runs ``dbt parse`` first when the dbt manifest is
    missing or stale (transform/project.py)."""
    partitions = partitions_from(settings.start_date)
    pools = pools_for(settings)  # one-slot "duckdb" locally; lake hours side by side in prod
    project = build_dbt_project(settings)
    ensure_manifest(project, dbt_resource(settings))
    return ShopperAssets(
        *build_lake_assets(partitions.hourly, settings.late_arrival_hours, pools.lake),
        *build_ad_spend_assets(partitions.daily, pools.lake),
        dbt=build_dbt_assets(project, partitions.daily, pools.dbt),
        data_quality=build_data_quality_asset(partitions.daily, settings.late_arrival_hours, pools.lake),
    )


def _automate(spec: AssetSpec) -> AssetSpec:
    """Daily models follow every updated hour, late ones included (see automation/conditions.py).

    Models in ``TIED_TO_THE_DAY`` are tied to cleaned_events here, so they are built in the same
    automatic run as the day's facts.
    """
    if spec.key in TIED_TO_THE_DAY:
        spec = spec.merge_attributes(deps=[AssetDep("cleaned_events", partition_mapping=LAKE_HOURS_OF_DAY)])
    reads_lake = AssetKey("cleaned_events") in {dep.asset_key for dep in spec.deps}
    return spec.replace_attributes(automation_condition=on_updated_hours() if reads_lake else with_upstream_models())


def build_definitions(settings: Settings) -> Definitions:
    """The code location of ``settings``: assets with their automation and freshness, jobs, sensors,
    the executor and the resources of the deployment."""
    built = build_assets(settings)
    dbt_models = built.dbt.daily.map_asset_specs(_automate)
    history_models = built.dbt.history.map_asset_specs(
        lambda spec: spec.replace_attributes(automation_condition=after_daily_models())
    )
    # the data-quality marts: rebuilt with each recount of data_quality_daily (operations/data_quality_asset.py)
    quality_models = built.dbt.quality.map_asset_specs(
        lambda spec: spec.replace_attributes(automation_condition=with_upstream_models())
    )

    # Every lake table and mart says how fresh it must be (operations/freshness.py); the daemon judges it.
    lake_assets, ad_spend, dbt_models, history_models, quality_models = (
        freshness.with_freshness(a, settings.freshness)
        for a in (built.lake_step, built.ad_spend, dbt_models, history_models, quality_models)
    )
    alert_sensor = build_alert_sensor(
        freshness.watched([lake_assets, ad_spend, dbt_models, history_models, quality_models]),
        settings.alerting.ui_url,
    )

    # Streams are followed by marts_follow_sensor; declarative automation covers every other update,
    # so it evaluates at Dagster's default pace (each evaluation costs the daemon about a second of CPU).
    automation = AutomationConditionSensorDefinition(
        "shopper_automation",
        target=AssetSelection.all(),
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
    )

    return Definitions(
        assets=[
            built.landing_events,
            lake_assets,
            built.landing_ad_spend,
            ad_spend,
            dbt_models,
            history_models,
            built.data_quality,
            quality_models,
        ],
        # Steps run in the run's own process: the heavy ones share the one-slot "duckdb" pool anyway (in prod
        # a lake run is one step, and lake runs of different hours run side by side in the "lake" pool), and
        # a process per step would add seconds to every small sensor-driven run. The run worker's heartbeat
        # lets run monitoring free the pool slot of a worker that died (see run_health.py).
        executor=in_process_with_heartbeat,
        jobs=[lake_job, marts_job, quality_job, history_job],
        sensors=[kafka_landing_sensor, s3_drop_sensor, marts_follow_sensor, automation, alert_sensor],
        resources={
            **resources_for(settings),
            "dbt": dbt_resource(settings),
            "kafka": KafkaResource(
                bootstrap_servers=settings.kafka_bootstrap_servers,
                topics=",".join(settings.kafka_topics),
                client_overrides=settings.kafka_consumer_config,
                lag_alert_threshold=settings.alerting.kafka_lag_threshold,
            ),
            "s3_drops": S3DropsResource(bucket=settings.s3_bucket, endpoint_url=settings.aws_endpoint_url),
            "alerts": destinations_from(settings.alerting),
        },
    )


@definitions
def defs() -> Definitions:
    """The code location of the environment (SHOPPER_* variables, read here, once)."""
    dagster_fixes.apply()  # before any run of this code location executes (see dagster_fixes.py)
    return build_definitions(Settings.from_env())
