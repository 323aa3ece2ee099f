"""One source of truth for configuration: the environment variables of CONTRACT.md.

Everything that depends on where the platform runs reads ``Settings.from_env()``; nothing else
looks at ``os.environ`` directly. Resources receive these values through ``EnvVar`` where they are
secrets, so credentials never appear in run config or logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

#: The partitions' first day when neither SHOPPER_START_DATE nor the data root's START_DATE_FILE gives one.
DEFAULT_START_DATE = "2026-01-01"
#: Under the data root: the first day of the data it holds, written by ``shopper demo``, ``generate`` and
#: ``backfill`` (record_start_date), so the UI's partition bars start where the data starts (not months
#: of empty partitions before a demo day) and every process reading that root agrees on the partitions.
START_DATE_FILE = "start_date"
DEFAULT_LATE_ARRIVAL_HOURS = 6
UNSUPPORTED_PATH_CHARACTERS = "?\\"  # DuckDB cannot open a database file whose path holds them


@dataclass(frozen=True)
class Freshness:
    """How old the newest materialization of each layer may get before the asset counts as stale
    (minutes; it warns at half of that). Events arrive all day (Kafka, hourly drops), ad spend once a day."""

    lake_minutes: int = 120  # raw_events, cleaned_events, quarantined_events
    marts_minutes: int = 180  # every dbt mart, daily and whole-history
    ad_spend_minutes: int = 36 * 60  # one report a day, with a morning's slack


@dataclass(frozen=True)
class Alerting:
    """Where alerts go and when the Kafka consumer counts as behind. Secrets (the webhook URL, the Slack
    token, the SMTP password) are only noted as present here: resources read them through ``EnvVar``."""

    webhook: bool = False  # SHOPPER_ALERT_WEBHOOK_URL is set
    slack: bool = False  # SHOPPER_ALERT_SLACK_TOKEN and SHOPPER_ALERT_SLACK_CHANNEL are set
    slack_channel: str | None = None
    slack_api_url: str | None = None  # another Slack Web API base (a proxy); None: Slack's own
    smtp_host: str | None = None  # e-mail goes out when this and SHOPPER_ALERT_EMAIL_TO are set
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls, ssl or none
    smtp_user: str | None = None
    smtp_password: bool = False  # SHOPPER_ALERT_SMTP_PASSWORD is set
    email_from: str = "shopper-alerts@localhost"
    email_to: tuple[str, ...] = ()
    ui_url: str = "http://localhost:3000"  # links in alerts point at this Dagster UI
    kafka_lag_threshold: int = 100_000  # messages behind, summed over the topics' partitions

    @property
    def email(self) -> bool:
        return bool(self.smtp_host and self.email_to)


@dataclass(frozen=True)
class Settings:
    env: str = "local"
    data_dir: Path = Path("data")
    duckdb_path: Path = Path("data/shopper.duckdb")
    start_date: date = date(2026, 1, 1)
    start_date_from: str = "default"  # where start_date came from: SHOPPER_START_DATE, the file, or the default
    late_arrival_hours: int = DEFAULT_LATE_ARRIVAL_HOURS
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_topics: tuple[str, ...] = ("shopper.events",)
    kafka_consumer_config: dict[str, str] = field(default_factory=dict)
    s3_bucket: str = "shopper-lake"
    aws_endpoint_url: str | None = None
    pg_url: str | None = field(default=None, repr=False)
    freshness: Freshness = field(default_factory=Freshness)
    alerting: Alerting = field(default_factory=Alerting)

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing" / "events"

    @property
    def serving_dir(self) -> Path:
        """The published, read-only copy of the marts that local readers use (serving/local.py)."""
        return self.data_dir / "serving"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("SHOPPER_DATA_DIR") or "data").expanduser().absolute()
        shopper_env = (env.get("SHOPPER_ENV") or "local").strip().lower()
        if shopper_env not in ("local", "prod"):
            raise ValueError(f"SHOPPER_ENV must be 'local' or 'prod', not {shopper_env!r}")
        duckdb_path = Path(env.get("SHOPPER_DUCKDB_PATH") or data_dir / "shopper.duckdb").expanduser().absolute()
        for name, path in (("SHOPPER_DATA_DIR", data_dir), ("SHOPPER_DUCKDB_PATH", duckdb_path)):
            if bad := set(UNSUPPORTED_PATH_CHARACTERS) & set(str(path)):
                # DuckDB reads what follows "?" in a database path as options, and "\\" as a separator
                raise ValueError(f"{name} must not contain {' or '.join(map(repr, sorted(bad)))}: {str(path)!r}")
        start, start_from = _start_date(env.get("SHOPPER_START_DATE"), data_dir / START_DATE_FILE)
        late = int(env.get("SHOPPER_LATE_ARRIVAL_HOURS") or DEFAULT_LATE_ARRIVAL_HOURS)
        if not 0 <= late <= 72:
            raise ValueError("SHOPPER_LATE_ARRIVAL_HOURS must be between 0 and 72")
        topics = tuple(t.strip() for t in (env.get("SHOPPER_KAFKA_TOPICS") or "shopper.events").split(",") if t.strip())
        consumer_config = {}
        for item in (env.get("SHOPPER_KAFKA_CONSUMER_CONFIG") or "").split(","):
            if item.strip():
                key, sep, value = item.partition("=")
                if not sep or not key.strip():
                    raise ValueError(f"SHOPPER_KAFKA_CONSUMER_CONFIG takes key=value pairs, got {item!r}")
                consumer_config[key.strip()] = value.strip()
        return cls(
            env=shopper_env,
            data_dir=data_dir,
            duckdb_path=duckdb_path,
            start_date=start,
            start_date_from=start_from,
            late_arrival_hours=late,
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or "localhost:9092",
            kafka_topics=topics,
            kafka_consumer_config=consumer_config,
            s3_bucket=env.get("SHOPPER_S3_BUCKET") or "shopper-lake",
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            pg_url=env.get("SHOPPER_PG_URL") or None,
            freshness=_freshness(env),
            alerting=_alerting(env),
        )


def _positive_int(env, name: str, default: int, minimum: int = 1) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def _freshness(env) -> Freshness:
    # Dagster's time-window policies take one minute at the least
    return Freshness(
        lake_minutes=_positive_int(env, "SHOPPER_FRESHNESS_LAKE_MINUTES", Freshness.lake_minutes),
        marts_minutes=_positive_int(env, "SHOPPER_FRESHNESS_MARTS_MINUTES", Freshness.marts_minutes),
        ad_spend_minutes=_positive_int(env, "SHOPPER_FRESHNESS_AD_SPEND_MINUTES", Freshness.ad_spend_minutes),
    )


def _alerting(env) -> Alerting:
    security = (env.get("SHOPPER_ALERT_SMTP_SECURITY") or "starttls").strip().lower()
    if security not in ("starttls", "ssl", "none"):
        raise ValueError(f"SHOPPER_ALERT_SMTP_SECURITY must be starttls, ssl or none, not {security!r}")
    recipients = tuple(a.strip() for a in (env.get("SHOPPER_ALERT_EMAIL_TO") or "").split(",") if a.strip())
    channel = (env.get("SHOPPER_ALERT_SLACK_CHANNEL") or "").strip() or None
    return Alerting(
        webhook=bool((env.get("SHOPPER_ALERT_WEBHOOK_URL") or "").strip()),
        slack=bool((env.get("SHOPPER_ALERT_SLACK_TOKEN") or "").strip()) and channel is not None,
        slack_channel=channel,
        slack_api_url=(env.get("SHOPPER_ALERT_SLACK_API_URL") or "").strip() or None,
        smtp_host=(env.get("SHOPPER_ALERT_SMTP_HOST") or "").strip() or None,
        smtp_port=_positive_int(env, "SHOPPER_ALERT_SMTP_PORT", 465 if security == "ssl" else Alerting.smtp_port),
        smtp_security=security,
        smtp_user=(env.get("SHOPPER_ALERT_SMTP_USER") or "").strip() or None,
        smtp_password=bool(env.get("SHOPPER_ALERT_SMTP_PASSWORD")),
        email_from=(env.get("SHOPPER_ALERT_EMAIL_FROM") or "").strip() or Alerting.email_from,
        email_to=recipients,
        ui_url=((env.get("SHOPPER_UI_URL") or "").strip() or Alerting.ui_url).rstrip("/"),
        kafka_lag_threshold=_positive_int(env, "SHOPPER_ALERT_KAFKA_LAG", Alerting.kafka_lag_threshold, minimum=0),
    )


def _start_date(configured: str | None, recorded: Path) -> tuple[date, str]:
    """SHOPPER_START_DATE, else the day recorded under the data root, else DEFAULT_START_DATE."""
    if configured:
        try:
            return date.fromisoformat(configured.strip()), "SHOPPER_START_DATE"
        except ValueError as exc:
            raise ValueError(f"SHOPPER_START_DATE must be YYYY-MM-DD: {exc}") from None
    try:
        text = recorded.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return date.fromisoformat(DEFAULT_START_DATE), "default"
    try:
        return date.fromisoformat(text), str(recorded)
    except ValueError:
        raise ValueError(f"{recorded} must hold one date, YYYY-MM-DD, not {text[:40]!r}") from None


def record_start_date(settings: Settings, first_day: date) -> Settings:
    """Keep a data root's partitions starting on the first day it holds, so every process reading the
    root (the UI included) agrees and the UI's partition bars show its data: called before a command
    writes ``first_day`` and later days. Writes SHOPPER_START_DATE when set and nothing is recorded;
    else the earliest of ``first_day``, the landed days and the recorded day. Returns the settings to use
    (``start_date`` moves earlier only: a running UI sees the new days once its definitions reload)."""
    path = settings.data_dir / START_DATE_FILE
    if settings.start_date_from == "SHOPPER_START_DATE":
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{settings.start_date.isoformat()}\n")
        return settings
    recorded = [settings.start_date] if path.exists() else []
    first_day = min([first_day, *_landed_days(settings.landing_dir), *recorded])
    if first_day not in recorded:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{first_day.isoformat()}\n")
    return replace(settings, start_date=first_day, start_date_from=str(path))


def _landed_days(landing_dir: Path) -> list[date]:
    days = []
    for folder in landing_dir.glob("date=*"):
        try:
            days.append(date.fromisoformat(folder.name.removeprefix("date=")))
        except ValueError:
            continue  # not a day folder: the lake quarantines its files (unsupported_file)
    return days
