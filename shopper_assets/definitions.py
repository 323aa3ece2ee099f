"""The Dagster code location: assets, checks and resources for the environment in SHOPPER_ENV."""

from dagster import Definitions

from shopper_assets.deployments import resources_for
from shopper_assets.lake.assets import clean_events, landing_events, raw_events
from shopper_assets.settings import Settings

defs = Definitions(
    assets=[landing_events, raw_events, clean_events],
    resources=resources_for(Settings.from_env()),
)
