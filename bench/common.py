"""Figures every benchmark prints the same way: seconds, events/s and the process's peak memory."""

from __future__ import annotations

import resource
from datetime import date, timedelta
from pathlib import Path


def peak_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(stage: str, seconds: float, events: int, width: int = 28) -> None:
    rate = events / seconds if seconds > 0 else float("inf")
    print(f"{stage:<{width}} {seconds:8.2f} s  {rate:>12,.0f} events/s  peak RSS {peak_mb():8,.0f} MB", flush=True)


def dbt_build_day(dbt, day: date, target_path: Path, extra_env: dict[str, str] | None = None, window_as_vars=False):
    """`dbt build` of one day as the daily dbt assets run it; returns the finished invocation.

    Imported late: shopper_assets reads its settings from the environment the caller sets up first.
    """
    from shopper_assets.transform import DbtBuildConfig, dbt_build_command
    from shopper_assets.transform.resources import environment

    args, env = dbt_build_command((day, day + timedelta(days=1)), DbtBuildConfig(window_as_vars=window_as_vars))
    with environment({**env, **(extra_env or {})}):  # dbt copies the environment when it starts
        invocation = dbt.cli(args, target_path=target_path, raise_on_error=False)
    invocation.wait()
    return invocation
