"""Where alerts go: a generic webhook, Slack (through dagster-slack) and e-mail (SMTP).

``AlertDestinations`` is a resource; ``definitions.py`` builds it from ``Settings.alerting`` and passes
every secret (webhook URL, Slack token, SMTP password) as an ``EnvVar``, so they are read from the
environment when the sensor runs and never appear in config, the UI or logs. A destination is used
when its settings are present; none configured means alerts are only logged by the alert sensor.

The webhook receives ``Alert.payload()`` as a JSON POST (CONTRACT.md: ``kind``, ``status``
firing/resolved, ``asset`` or ``run_id``, ``partition``, ``message``, ``url``, plus ``incident``,
``assets``, ``checks`` and ``at``); Slack and e-mail receive ``Alert.text`` (e-mail subject: ``Alert.title``).
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from shopper_assets.operations.incidents import Alert
from shopper_assets.settings import Alerting

WEBHOOK, SLACK, EMAIL = "webhook", "slack", "email"


class AlertDestinations(ConfigurableResource):
    """The configured destinations; ``send`` delivers one alert to some or all of them."""

    webhook_url: str | None = Field(default=None, repr=False, description="JSON POST target (secret)")
    slack_token: str | None = Field(default=None, repr=False, description="Slack bot token (secret)")
    slack_channel: str | None = None
    slack_api_url: str | None = Field(default=None, description="Slack Web API base, when not Slack's own")
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls, ssl or none
    smtp_user: str | None = None
    smtp_password: str | None = Field(default=None, repr=False, description="SMTP password (secret)")
    email_from: str = Alerting.email_from
    email_to: list[str] = Field(default_factory=list)
    timeout_seconds: float = 10.0

    @property
    def names(self) -> list[str]:
        """The destinations configured, in the order alerts go out."""
        return [
            name
            for name, present in (
                (WEBHOOK, self.webhook_url),
                (SLACK, self.slack_token and self.slack_channel),
                (EMAIL, self.smtp_host and self.email_to),
            )
            if present
        ]

    def send(self, alert: Alert, to: list[str] | None = None) -> dict[str, str]:
        """Deliver to ``to`` (default: every configured destination); returns destination -> error."""
        errors = {}
        for name in to if to is not None else self.names:
            try:
                {WEBHOOK: self._webhook, SLACK: self._slack, EMAIL: self._email}[name](alert)
            except Exception as exc:  # one destination down must not keep the others from hearing
                errors[name] = f"{type(exc).__name__}: {exc}"
        return errors

    def _webhook(self, alert: Alert) -> None:
        request = urllib.request.Request(
            self.webhook_url,
            data=json.dumps(alert.payload()).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "shopper-alerts"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                response.read()
        except urllib.error.HTTPError as exc:  # the body may say why; the URL (a secret) is never shown
            raise RuntimeError(f"webhook answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            raise RuntimeError(f"webhook unreachable: {exc.reason}") from None

    def _slack(self, alert: Alert) -> None:
        from dagster_slack import SlackResource

        client = SlackResource(token=self.slack_token).get_client()
        client.timeout = int(self.timeout_seconds)
        if self.slack_api_url:
            client.base_url = self.slack_api_url.rstrip("/") + "/"
        client.chat_postMessage(channel=self.slack_channel, text=alert.text)

    def _email(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = alert.title
        message["From"] = self.email_from
        message["To"] = ", ".join(self.email_to)
        body = [alert.message, ""]
        body += [f"{k}: {v}" for k, v in alert.payload().items() if v not in (None, [], "") and k != "message"]
        message.set_content("\n".join(body) + "\n")
        if self.smtp_security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                self.smtp_host, self.smtp_port, timeout=self.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            server = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_seconds)
        with server:
            if self.smtp_security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if self.smtp_user:
                server.login(self.smtp_user, self.smtp_password or "")
            server.send_message(message)


def destinations_from(alerting: Alerting) -> AlertDestinations:
    """The resource for these settings; secrets as ``EnvVar`` (only those that are set)."""
    config: dict[str, Any] = {
        "slack_channel": alerting.slack_channel,
        "slack_api_url": alerting.slack_api_url,
        "smtp_host": alerting.smtp_host,
        "smtp_port": alerting.smtp_port,
        "smtp_security": alerting.smtp_security,
        "smtp_user": alerting.smtp_user,
        "email_from": alerting.email_from,
        "email_to": list(alerting.email_to),
    }
    if alerting.webhook:
        config["webhook_url"] = EnvVar("SHOPPER_ALERT_WEBHOOK_URL")
    if alerting.slack:
        config["slack_token"] = EnvVar("SHOPPER_ALERT_SLACK_TOKEN")
    if alerting.smtp_password:
        config["smtp_password"] = EnvVar("SHOPPER_ALERT_SMTP_PASSWORD")
    return AlertDestinations(**config)
