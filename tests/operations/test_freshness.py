"""Every mart and lake table declares how fresh it must be, with Dagster's freshness policies; the
windows come from the settings (documented defaults, overridable in the environment)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dagster import AssetKey, FreshnessPolicy

from shopper_assets.operations import freshness
from shopper_assets.settings import Freshness, Settings
from tests.built import lake_step, shopper_dbt_assets, shopper_history_dbt_assets, shopper_quality_dbt_assets


def policies(defs) -> dict[AssetKey, FreshnessPolicy | None]:
    return {
        spec.key: spec.freshness_policy
        for assets_def in defs.assets
        if hasattr(assets_def, "specs")
        for spec in assets_def.specs
    }


def test_every_mart_and_lake_table_has_a_policy_and_nothing_else_does():
    from tests.built import defs

    found = policies(defs)
    marts = {
        s.key
        for a in (shopper_dbt_assets, shopper_history_dbt_assets, shopper_quality_dbt_assets)
        for s in a.specs
        if s.group_name == "marts"
    }
    lake = {AssetKey(k) for k in ("raw_events", "cleaned_events", "quarantined_events", "ad_spend")}
    assert {"kpi_daily", "customer_ltv", "fct_events", "dq_score_daily"} <= {k.to_user_string() for k in marts}
    assert {k for k, p in found.items() if p is not None} == marts | lake
    assert found[AssetKey("kpi_daily")] == freshness.window(180)
    assert found[AssetKey("cleaned_events")] == freshness.window(120)
    assert found[AssetKey("ad_spend")] == freshness.window(36 * 60)
    # the alert sensor watches exactly those, by group
    watched = freshness.watched(list(defs.assets))
    assert set(watched) == marts | lake and set(watched.values()) == {"lake", "marts"}


def test_windows_come_from_the_environment():
    settings = Settings.from_env(
        {
            "SHOPPER_FRESHNESS_LAKE_MINUTES": "30",
            "SHOPPER_FRESHNESS_MARTS_MINUTES": "45",
            "SHOPPER_FRESHNESS_AD_SPEND_MINUTES": "1",
        }
    )
    assert settings.freshness == Freshness(lake_minutes=30, marts_minutes=45, ad_spend_minutes=1)
    assert Settings.from_env({}).freshness == Freshness(120, 180, 2160)
    lake = freshness.with_freshness(lake_step, settings.freshness)
    (policy,) = {s.freshness_policy for s in lake.specs}
    assert policy == FreshnessPolicy.time_window(fail_window=timedelta(minutes=30), warn_window=timedelta(minutes=15))
    # one minute is Dagster's least window, and then there is no separate warning
    assert freshness.window(1) == FreshnessPolicy.time_window(fail_window=timedelta(minutes=1))
    for bad in ("0", "-5", "soon"):
        with pytest.raises(ValueError, match="SHOPPER_FRESHNESS_LAKE_MINUTES"):
            Settings.from_env({"SHOPPER_FRESHNESS_LAKE_MINUTES": bad})


def test_alert_settings_from_the_environment():
    alerting = Settings.from_env(
        {
            "SHOPPER_ALERT_WEBHOOK_URL": "https://hooks.example/T0/secret",
            "SHOPPER_ALERT_SLACK_TOKEN": "xoxb-1",
            "SHOPPER_ALERT_SLACK_CHANNEL": "#data",
            "SHOPPER_ALERT_SMTP_HOST": "smtp.example",
            "SHOPPER_ALERT_SMTP_SECURITY": "ssl",
            "SHOPPER_ALERT_SMTP_PASSWORD": "pw",
            "SHOPPER_ALERT_EMAIL_TO": "a@example.com,b@example.com",
            "SHOPPER_UI_URL": "https://dagster.example/",
            "SHOPPER_ALERT_KAFKA_LAG": "5000",
        }
    ).alerting
    assert alerting.webhook and alerting.slack and alerting.email and alerting.smtp_password
    assert alerting.smtp_port == 465 and alerting.email_to == ("a@example.com", "b@example.com")
    assert alerting.ui_url == "https://dagster.example" and alerting.kafka_lag_threshold == 5000
    assert "secret" not in repr(alerting) and "xoxb" not in repr(alerting) and "pw" not in repr(alerting)
    # a Slack token without a channel is no Slack destination
    assert not Settings.from_env({"SHOPPER_ALERT_SLACK_TOKEN": "xoxb-1"}).alerting.slack
