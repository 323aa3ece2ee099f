"""The ``shopper`` command line (CONTRACT.md): generate events, run the demo, print KPIs.

Commands import what they run inside their function: ``shopper --help`` takes 0.1 s so, 4.3 s with them at the top.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from shopper_assets import inputs
from shopper_assets.settings import Settings


def _settings(**overrides: str) -> Settings:
    try:
        return Settings.from_env({**os.environ, **overrides} if overrides else None)
    except ValueError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


class ShopperGroup(click.Group):
    """Every user error ends in one line (``Error: ...``), never a traceback or a usage block."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            command = f"shopper {ctx.invoked_subcommand} -h" if ctx.invoked_subcommand else "shopper -h"
            raise click.ClickException(f"{exc.format_message()} (see `{command}`)") from None
        except inputs.InputError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)


def yesterday_utc() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


@click.group(cls=ShopperGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Shopper Analytics: e-commerce shopper events through Dagster and dbt."""


@main.command()
@click.option("--start", "start", required=True, help="First UTC day, YYYY-MM-DD.")
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, inputs.MAX_GENERATE_DAYS))
@click.option(
    "--events-per-day", default=100_000, show_default=True, type=click.IntRange(1, inputs.MAX_GENERATE_EVENTS_PER_DAY)
)
@click.option("--seed", default=42, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Data root (default $SHOPPER_DATA_DIR)."
)
def generate(start: str, days: int, events_per_day: int, seed: int, out: Path | None) -> None:
    """Write synthetic shopper events into the landing zone (hour folders), deterministic per seed."""
    from shopper_assets.contract.ad_spend import LANDING_PREFIX as AD_SPEND_PREFIX
    from shopper_assets.generator import GeneratorConfig, write_landing
    from shopper_assets.settings import record_start_date

    # the data root written: $SHOPPER_DATA_DIR, or --out with its own recorded partitions' start
    settings = _settings(SHOPPER_DATA_DIR=str(out.absolute())) if out else _settings()
    root = settings.data_dir
    first = inputs.parse_day(start, "--start")
    inputs.check_generate_days(settings, first, days)
    if moved := inputs.start_moved(settings, record_start_date(settings, first)):
        click.echo(moved)
    config = GeneratorConfig(start=first, days=days, events_per_day=events_per_day, seed=seed)
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
@click.option("--start", help="Replay this past UTC day (YYYY-MM-DD) from 00:00 instead of stamping events at now.")
@click.option("--seed", type=click.IntRange(min=0), help="Generator seed (default: 42 with --start, else a new one).")
def produce(
    events: int | None,
    rate: float | None,
    duration: float | None,
    topic: str | None,
    start: str | None,
    seed: int | None,
) -> None:
    """Send synthetic events to Kafka, keyed by user_id, stamped at the time they are sent (or
    replaying a past day with --start); non-zero exit when any event was not delivered."""
    import secrets

    from shopper_assets.ingestion.kafka.broker import broker_error
    from shopper_assets.ingestion.kafka.produce import produce_events, stop_on_signals
    from shopper_assets.settings import record_start_date

    if events is None and (rate is None or duration is None):
        raise click.UsageError("give --events N, or --rate R with --duration S")
    settings = _settings()
    replay = _past_day(inputs.parse_day(start, "--start"), settings) if start else None
    bootstrap = settings.kafka_bootstrap_servers
    if (error := broker_error(bootstrap)) is not None:
        raise click.ClickException(
            f"no Kafka broker answers at {bootstrap} ({error}); start one with `shopper stream`, "
            "or set KAFKA_BOOTSTRAP_SERVERS"
        )
    settings = record_start_date(settings, replay or inputs.today_utc())  # the partitions hold what is sent
    if seed is None:
        seed = 42 if replay else secrets.randbelow(1_000_000)  # live runs never repeat each other's event ids
    with stop_on_signals() as stopping:  # Ctrl-C: stop sending, flush, report what was delivered
        report = produce_events(
            settings,
            events=events,
            rate=rate,
            duration=duration,
            topic=topic,
            seed=seed,
            start=replay,
            stop_event=stopping,
        )
    click.echo(
        f"{report.delivered:,} delivered, {report.failed:,} failed to {report.topic} at "
        f"{bootstrap} in {report.seconds:.1f} s ({report.rate:,.0f} events/s)"
        + (f", replaying {replay}" if replay else ", stamped at now")
        + (" (stopped by Ctrl-C)" if report.interrupted else "")
    )
    for error in report.errors:
        click.echo(f"  error: {error}", err=True)
    sys.exit(0 if report.ok else 1)


def _past_day(day: date, settings: Settings) -> date:
    """A day to replay: one that has ended, from the partitions' start when SHOPPER_START_DATE sets it."""
    inputs.check_after_start(settings, day, "--start")
    if day >= inputs.today_utc():
        raise inputs.InputError(
            f"--start {day} has not ended yet; replay a past day, or leave out --start to stamp events at now"
        )
    return day


@main.command()
@click.option("--rate", default=100.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Events/s.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after S seconds (default: Ctrl-C).")
@click.option("--ui/--no-ui", default=True, show_default=True, help="Start the Dagster UI with the Kafka sensor on.")
@click.option(
    "--ui-port",
    default=3000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port of the Dagster UI (one already running there is used).",
)
def stream(rate: float, duration: float | None, ui: bool, ui_port: int) -> None:
    """A live stream on this machine: a local Kafka broker when none answers, events at --rate stamped
    at now, the Dagster UI with the Kafka sensor on, and where to watch. Ctrl-C stops it all."""
    from shopper_assets.settings import record_start_date
    from shopper_assets.stream import StreamError, run_stream

    try:
        settings = record_start_date(_settings(), inputs.today_utc())  # a new data root starts today
        ok = run_stream(settings, rate=rate, duration=duration, ui=ui, ui_port=ui_port, echo=click.echo)
    except StreamError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(0 if ok else 1)


@main.command()
@click.option("--date", "day", help="First UTC day to generate and process (default: the days end yesterday).")
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, inputs.MAX_DEMO_DAYS))
@click.option(
    "--events-per-day", default=200_000, show_default=True, type=click.IntRange(1, inputs.MAX_DEMO_EVENTS_PER_DAY)
)
@click.option("--seed", default=42, show_default=True, type=click.IntRange(min=0))
@click.option("--verbose", "-v", is_flag=True, help="Show Dagster's and dbt's logs.")
def demo(day: str | None, days: int, events_per_day: int, seed: int, verbose: bool) -> None:
    """The main job: generate a day, materialize every asset for it on DuckDB, run all checks, print KPIs."""
    from shopper_assets.demo import run_demo

    settings = _settings()
    # by default the days end yesterday: the demo never generates hours that have not begun
    first = inputs.parse_day(day, "--date") if day else yesterday_utc() - timedelta(days=days - 1)
    inputs.check_demo_days(settings, first, days)
    ok = run_demo(settings, first, days, events_per_day, seed, echo=click.echo, verbose=verbose)
    sys.exit(0 if ok else 1)


@main.command()
@click.option("--date", "day", required=True, help="First UTC day to process, YYYY-MM-DD.")
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, 366))
@click.option("--verbose", "-v", is_flag=True, help="Show Dagster's and dbt's logs.")
def backfill(day: str, days: int, verbose: bool) -> None:
    """Process days already landed: the lake, the daily marts and the whole-history marts (3 runs)."""
    from shopper_assets.demo import process_days
    from shopper_assets.settings import record_start_date

    settings = _settings()
    first = inputs.parse_day(day, "--date")
    inputs.check_backfill_days(settings, first, days)
    before, settings = settings, record_start_date(settings, first)
    if moved := inputs.start_moved(before, settings):
        click.echo(moved)
    last = first + timedelta(days=days - 1)
    click.echo(f"Backfill of {first}" + (f" to {last}" if days > 1 else "") + f", data in {settings.data_dir}")
    sys.exit(0 if process_days(settings, first, last, echo=click.echo, verbose=verbose) else 1)


@main.command()
@click.option("--date", "day", help="UTC day (default: the latest day in kpi_daily).")
def kpis(day: str | None) -> None:
    """Print the KPI summary of a day from the warehouse."""
    from shopper_assets.demo import print_kpis

    settings = _settings()
    if not print_kpis(settings, inputs.parse_day(day, "--date") if day else None, echo=click.echo):
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Server processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Start the query API over the published marts (JSON; OpenAPI docs at /docs)."""
    import uvicorn

    _settings()  # configuration errors before the server starts
    inputs.check_port_free(port, host)
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
    inputs.check_port_free(port, host)
    click.echo(f"Shopper Analytics dashboard on http://{host}:{port}")
    sys.exit(run_dashboard(host, port))


@main.command()
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--verbose", "-v", is_flag=True, help="Show the daemon's and the webserver's logs (sensor ticks).")
def ui(port: int, verbose: bool) -> None:
    """Start the Dagster UI (dagster dev) on the instance and data of `shopper demo`."""
    import subprocess

    from shopper_assets.demo import REPO_ROOT, ensure_dagster_home

    settings = _settings()
    inputs.check_port_free(port)
    home = ensure_dagster_home(settings)
    # `dagster dev` (its supersession note silenced), from the instance folder so only its dagster.yaml counts
    command = [sys.executable, "-W", "ignore:Function `dev_command` is superseded", "-m", "dagster", "dev"]
    command += [
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
        "-p",
        str(port),
        "--log-level",
        "info" if verbose else "warning",
    ]
    env = {**os.environ, "DAGSTER_HOME": str(home), "SHOPPER_DATA_DIR": str(settings.data_dir)}
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (instance {home}, data {settings.data_dir}); Ctrl-C stops it")
    try:
        sys.exit(subprocess.run(command, env=env, cwd=home).returncode)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
