"""How fresh each layer must be, as Dagster's freshness policies (evaluated by the daemon).

Every lake table and every mart declares a time-window ``FreshnessPolicy``: the asset is stale
(``FAIL``) once its newest materialization, of any partition, is older than the layer's window in
``Settings.freshness``, and warns at half of it. The UI shows the state on each asset, and the
alert sensor (``alert_sensor.py``) alerts on ``FAIL``. Staging and intermediate models have none:
a stale mart already says that the layers under it stopped.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey, AssetsDefinition, AssetSpec, FreshnessPolicy

from shopper_assets.settings import Freshness

LAKE_TABLES = frozenset(AssetKey(k) for k in ("raw_events", "cleaned_events", "quarantined_events"))
AD_SPEND = AssetKey("ad_spend")
MARTS_GROUP = "marts"


def window(minutes: int) -> FreshnessPolicy:
    """Stale after ``minutes`` without a materialization; a warning from half of that (at least a minute)."""
    fail = timedelta(minutes=minutes)
    warn = max(fail / 2, timedelta(minutes=1))
    return FreshnessPolicy.time_window(fail_window=fail, warn_window=warn if warn < fail else None)


def policy_for(spec: AssetSpec, freshness: Freshness) -> FreshnessPolicy | None:
    """The policy of a lake table or a mart; None for every other asset."""
    if spec.key in LAKE_TABLES:
        return window(freshness.lake_minutes)
    if spec.key == AD_SPEND:
        return window(freshness.ad_spend_minutes)
    if spec.group_name == MARTS_GROUP:
        return window(freshness.marts_minutes)
    return None


def with_freshness(assets_def: AssetsDefinition, freshness: Freshness) -> AssetsDefinition:
    """The same assets, each lake table and mart with its freshness policy."""

    def attach(spec: AssetSpec) -> AssetSpec:
        policy = policy_for(spec, freshness)
        return spec if policy is None else spec.replace_attributes(freshness_policy=policy)

    return assets_def.map_asset_specs(attach)


def watched(assets: list[AssetsDefinition | AssetSpec]) -> dict[AssetKey, str]:
    """Asset key -> group of every asset with a freshness policy (the alert sensor watches them)."""
    specs = [spec for a in assets for spec in (a.specs if isinstance(a, AssetsDefinition) else [a])]
    return {spec.key: spec.group_name or "default" for spec in specs if spec.freshness_policy is not None}
