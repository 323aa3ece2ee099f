"""Alerts reach a real webhook receiver, Slack's Web API (through dagster-slack, against a local
stand-in) and a real SMTP server, all on loopback; secrets are read from the environment only."""

from __future__ import annotations

import pytest
from dagster import EnvVar

from shopper_assets.operations.destinations import AlertDestinations, destinations_from
from shopper_assets.operations.incidents import FIRING, Alert
from shopper_assets.settings import Settings
from tests.operations.receivers import http_receiver, smtp_receiver

ALERT = Alert(
    kind="check_failed",
    status=FIRING,
    incident="check_failed:cleaned_events:2026-11-20-13:00",
    message="Blocking check quarantine_ratio of cleaned_events failed for 2026-11-20-13:00.",
    asset="cleaned_events",
    run_id="0123456789abcdef",
    partition="2026-11-20-13:00",
    url="http://localhost:3000/runs/0123456789abcdef",
    checks=("cleaned_events:quarantine_ratio",),
)


def test_every_destination_receives_the_alert(monkeypatch):
    with http_receiver() as http, smtp_receiver() as smtp:
        monkeypatch.setenv("SHOPPER_ALERT_WEBHOOK_URL", http.webhook_url)
        monkeypatch.setenv("SHOPPER_ALERT_SLACK_TOKEN", "xoxb-test-token")
        env = {
            "SHOPPER_ALERT_WEBHOOK_URL": http.webhook_url,
            "SHOPPER_ALERT_SLACK_TOKEN": "xoxb-test-token",
            "SHOPPER_ALERT_SLACK_CHANNEL": "#data-alerts",
            "SHOPPER_ALERT_SLACK_API_URL": http.slack_api_url,
            "SHOPPER_ALERT_SMTP_HOST": smtp.host,
            "SHOPPER_ALERT_SMTP_PORT": str(smtp.port),
            "SHOPPER_ALERT_SMTP_SECURITY": "none",
            "SHOPPER_ALERT_EMAIL_TO": "oncall@example.com, data@example.com",
        }
        resource = destinations_from(Settings.from_env(env).alerting)
        # the secrets are environment variables in the resource's config, never their values
        assert isinstance(resource.webhook_url, EnvVar) and isinstance(resource.slack_token, EnvVar)
        assert "xoxb" not in repr(resource) and http.webhook_url not in repr(resource)
        live = resource.process_config_and_initialize()  # as Dagster does for a sensor: EnvVar read now
        assert live.names == ["webhook", "slack", "email"]
        assert live.send(ALERT) == {}

        (hook,) = http.webhook.snapshot()
        assert hook["path"] == "/hooks/alerts" and hook["content_type"] == "application/json"
        for key in ("kind", "status", "asset", "run_id", "partition", "message", "url"):
            assert hook[key] == getattr(ALERT, key), key

        (posted,) = http.slack.snapshot()
        assert posted["method"] == "chat.postMessage" and posted["channel"] == "#data-alerts"
        assert posted["auth"] == "Bearer xoxb-test-token"
        assert posted["text"].startswith("[FIRING] check_failed cleaned_events 2026-11-20-13:00")
        assert ALERT.url in posted["text"]

        (mail,) = smtp.messages.snapshot()
        assert mail["Subject"] == "[FIRING] check_failed cleaned_events 2026-11-20-13:00"
        assert mail["X-Envelope-To"] == "oncall@example.com, data@example.com"
        assert ALERT.message in mail.get_payload() and ALERT.url in mail.get_payload()


def test_a_destination_down_is_reported_and_the_others_still_hear():
    with http_receiver(status=503) as http, smtp_receiver() as smtp:
        live = AlertDestinations(
            webhook_url=http.webhook_url,
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_security="none",
            email_to=["oncall@example.com"],
        )
        errors = live.send(ALERT)
        assert errors == {"webhook": "RuntimeError: webhook answered HTTP 503"}
        assert len(smtp.messages.snapshot()) == 1
        assert live.send(ALERT, to=["email"]) == {}  # a retry goes only where it failed
        assert http.webhook.snapshot() == [] and len(smtp.messages.snapshot()) == 2


def test_no_destination_configured():
    assert destinations_from(Settings.from_env({}).alerting).names == []
    with pytest.raises(ValueError, match="SHOPPER_ALERT_SMTP_SECURITY"):
        Settings.from_env({"SHOPPER_ALERT_SMTP_SECURITY": "tls"})
