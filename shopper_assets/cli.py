"""The ``shopper`` command line (CONTRACT.md): generate events, run the demo, print KPIs."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from shopper_assets.settings import Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


def yesterday_utc() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Shopper Analytics: e-commerce shopper events through Dagster and dbt."""


@main.command()
@click.option("--start", "start", required=True, help="First UTC day, YYYY-MM-DD.")
@click.option("--days", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--events-per-day", default=100_000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=42, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Data root (default $SHOPPER_DATA_DIR)."
)
def generate(start: str, days: int, events_per_day: int, seed: int, out: Path | None) -> None:
    """Write synthetic shopper events into the landing zone (hour folders), deterministic per seed."""
    from shopper_assets.contract.ad_spend import LANDING_PREFIX as AD_SPEND_PREFIX
    from shopper_assets.generator import GeneratorConfig, write_landing

    settings = _settings()
    config = GeneratorConfig(start=_day(start), days=days, events_per_day=events_per_day, seed=seed)
    root = out or settings.data_dir
    summary = write_landing(config, root, progress=True)
    click.echo(
        f"{summary.events:,} events in {len(summary.files)} files under {root / 'landing' / 'events'}, "
        f"ad spend ({summary.ad_spend_rows:,} rows) in {len(summary.ad_spend_files)} files under "
        f"{root / AD_SPEND_PREFIX} ({summary.seconds:.1f} s)"
    )


@main.command()
@click.option("--events", type=click.IntRange(min=1), help="Send N events as fast as possible.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="Target events per second.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Seconds to send at --rate.")
@click.option("--topic", help="Topic (default: the first of $SHOPPER_KAFKA_TOPICS).")
@click.option("--seed", default=42, show_default=True, type=click.IntRange(min=0))
def produce(events: int | None, rate: float | None, duration: float | None, topic: str | None, seed: int) -> None:
    """Send synthetic events to Kafka, keyed by user_id; non-zero exit when any event was not delivered."""
    from shopper_assets.ingestion.kafka import produce_events

    if events is None and (rate is None or duration is None):
        raise click.UsageError("give --events N, or --rate R with --duration S")
    settings = _settings()
    report = produce_events(settings, events=events, rate=rate, duration=duration, topic=topic, seed=seed)
    click.echo(
        f"{report.delivered:,} delivered, {report.failed:,} failed to {report.topic} at "
        f"{settings.kafka_bootstrap_servers} in {report.seconds:.1f} s ({report.rate:,.0f} events/s)"
    )
    for error in report.errors:
        click.echo(f"  error: {error}", err=True)
    sys.exit(0 if report.ok else 1)


@main.command()
@click.option("--date", "day", help="First UTC day to generate and process (default: the days end yesterday).")
@click.option("--days", default=1, show_default=True, type=click.IntRange(min=1, max=31))
@click.option("--events-per-day", default=200_000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=42, show_default=True, type=click.IntRange(min=0))
def demo(day: str | None, days: int, events_per_day: int, seed: int) -> None:
    """The main job: generate a day, materialize every asset for it on DuckDB, run all checks, print KPIs."""
    from shopper_assets.demo import run_demo

    # by default the days end yesterday: the demo never generates hours that have not begun
    first = _day(day) or yesterday_utc() - timedelta(days=days - 1)
    ok = run_demo(_settings(), first, days, events_per_day, seed, echo=click.echo)
    sys.exit(0 if ok else 1)


@main.command()
@click.option("--date", "day", help="UTC day (default: the latest day in kpi_daily).")
def kpis(day: str | None) -> None:
    """Print the KPI summary of a day from the warehouse."""
    from shopper_assets.demo import print_kpis

    if not print_kpis(_settings(), _day(day), echo=click.echo):
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Server processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Start the query API over the published marts (JSON; OpenAPI docs at /docs)."""
    import uvicorn

    _settings()  # configuration errors before the server starts
    click.echo(f"Shopper Analytics API on http://{host}:{port} (docs at /docs)")
    uvicorn.run(
        "shopper_assets.serving.api:app_from_env", factory=True, host=host, port=port, workers=workers, log_level="info"
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535))
def dashboard(host: str, port: int) -> None:
    """Start the KPI dashboard over the published marts (Streamlit)."""
    from shopper_assets.serving.dashboard import run_dashboard

    _settings()
    click.echo(f"Shopper Analytics dashboard on http://{host}:{port}")
    sys.exit(run_dashboard(host, port))


if __name__ == "__main__":
    main()
