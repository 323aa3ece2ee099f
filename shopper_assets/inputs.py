"""Checks of the command line's inputs, made before a command writes anything.

Each failure is an ``InputError`` whose message is one line that says what is wrong and what to
do; the command line prints it without a traceback.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shopper_assets.settings import Settings

MAX_DEMO_DAYS = 31
MAX_DEMO_EVENTS_PER_DAY = 5_000_000  # about 10 minutes of the demo on 2 cores; bigger days: bench/
MAX_GENERATE_DAYS = 366
MAX_GENERATE_EVENTS_PER_DAY = 100_000_000


class InputError(ValueError):
    """A user's input the command refuses, with the reason in one line."""


def today_utc() -> date:
    return datetime.now(UTC).date()


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{option} expects a date as YYYY-MM-DD, got {value!r}") from None


def check_after_start(settings: Settings, first: date, option: str) -> None:
    """Partitions set to begin at SHOPPER_START_DATE cannot take an earlier day; a start recorded
    under the data root moves to an earlier day instead (settings.record_start_date)."""
    if first >= settings.start_date or settings.start_date_from != "SHOPPER_START_DATE":
        return
    raise InputError(
        f"{option} {first} is before the first partition, {settings.start_date} (SHOPPER_START_DATE); "
        f"set SHOPPER_START_DATE={first} or earlier, for every command and the UI (README: Configuration)"
    )


def start_moved(before: Settings, after: Settings) -> str | None:
    """The line that tells a user the partitions now start earlier, and how a running UI sees it."""
    if after.start_date >= before.start_date or before.start_date_from == "default":
        return None
    return (
        f"The partitions now start on {after.start_date} ({after.start_date_from}); "
        "a running `shopper ui` shows the new days after its *Reload definitions* (or a restart)."
    )


def check_demo_days(settings: Settings, first: date, days: int) -> None:
    """Whole days that have ended (the demo processes all 24 hours of each), from the partitions' start."""
    check_after_start(settings, first, "--date")
    last = first + timedelta(days=days - 1)
    if last >= today_utc():
        raise InputError(
            f"the days must have ended (every hour is processed): {first}"
            + (f" + {days - 1} days reaches {last}" if days > 1 else "")
            + f", but today (UTC) is {today_utc()}; use --date {today_utc() - timedelta(days=days)} or earlier"
        )


def check_generate_days(settings: Settings, first: date, days: int) -> None:
    """Days from the partitions' start up to today: hours further ahead would wait for days, unseen."""
    check_after_start(settings, first, "--start")
    last = first + timedelta(days=days - 1)
    if last > today_utc():
        raise InputError(
            f"--start {first} with --days {days} ends on {last}, after today (UTC, {today_utc()}): "
            "events of days that have not begun would not be processed until then"
        )


def check_backfill_days(settings: Settings, first: date, days: int) -> None:
    """Ended days from the partitions' start, each with landing files: a day without any would
    "succeed" with 0 lines and every check green."""
    check_demo_days(settings, first, days)
    if settings.env != "local":
        return  # in prod the landing zone is in S3: the lake run's own warning says when an hour has none
    empty = [
        first + timedelta(days=i)
        for i in range(days)
        if not any((settings.landing_dir / f"date={first + timedelta(days=i)}").glob("hour=*/*"))
    ]
    if empty:
        days_text = ", ".join(map(str, empty[:3])) + (f" and {len(empty) - 3} more" if len(empty) > 3 else "")
        raise InputError(
            f"no landing files for {days_text} under {settings.landing_dir}: "
            f"land events first (shopper generate --start {empty[0]}, a stream or S3 drops)"
        )


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """A server's port before it starts: a busy one would end in the server's own traceback."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise InputError(
                f"port {port} on {host} is in use (another `shopper ui`?): choose one with --port"
            ) from None
