"""``shopper demo``: the main job on the embedded default, end to end, with a readable summary.

It generates the day(s), then materializes every asset with one run per partitioning (the hourly
lake as one range run, the daily dbt models as another), recorded in the Dagster instance under
``$DAGSTER_HOME`` so ``dagster dev`` shows the runs, materializations and check results.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from dagster import AssetCheckEvaluation, AssetSelection, DagsterInstance, materialize

from shopper_assets.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
LAKE_ASSETS = ("raw_events", "cleaned_events", "quarantined_events")

Echo = Callable[[str], None]


def ensure_dagster_home(settings: Settings) -> Path:
    """Use $DAGSTER_HOME, or a folder under the data root seeded with the repo's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.data_dir / "dagster_home").absolute()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and (REPO_ROOT / "dagster.yaml").exists():
        shutil.copy(REPO_ROOT / "dagster.yaml", config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def run_range(defs, instance: DagsterInstance, selection: AssetSelection, first: str, last: str):
    """Materialize a selection over a partition range in a single run (BackfillPolicy.single_run)."""
    return materialize(
        assets=list(defs.assets),
        resources=defs.resources,
        instance=instance,
        selection=selection,
        tags=partition_range_tags(first, last),
        raise_on_error=False,
    )


def _describe_check(e: AssetCheckEvaluation) -> str:
    status = "PASS" if e.passed else ("WARN" if e.severity.value == "WARN" else "FAIL")
    key = e.asset_key.to_user_string()
    return f"  [{status}] {key}.{e.check_name}"


def run_demo(settings: Settings, day: date, days: int, events_per_day: int, seed: int, echo: Echo = print) -> bool:
    from shopper_assets.generator import GeneratorConfig, write_landing

    home = ensure_dagster_home(settings)
    instance = DagsterInstance.get()
    last_day = day + timedelta(days=days - 1)
    echo(
        f"Shopper Analytics demo: {days} day(s) from {day}, {events_per_day:,} events/day, data in {settings.data_dir}"
    )

    echo("\n[1/4] Generating shopper events into the landing zone")
    generated = write_landing(
        GeneratorConfig(start=day, days=days, events_per_day=events_per_day, seed=seed),
        settings.data_dir,
        progress=True,
    )
    echo(f"  {generated.events:,} events, {len(generated.files)} files ({generated.seconds:.1f} s)")

    from shopper_assets.definitions import defs

    echo("\n[2/4] Materializing raw_events → cleaned_events + quarantined_events (hourly, one run)")
    lake = run_range(
        defs, instance, AssetSelection.assets(*LAKE_ASSETS), f"{day:%Y-%m-%d}-00:00", f"{last_day:%Y-%m-%d}-23:00"
    )
    checks = list(lake.get_asset_check_evaluations())
    ok = lake.success
    echo(f"  run {lake.run_id}: {'success' if lake.success else 'FAILED'}")

    from shopper_assets.transform import shopper_dbt_assets, shopper_history_dbt_assets, shopper_quality_dbt_assets

    if ok:
        echo("\n[3/4] Landing ad spend, building the dbt star schema and the daily marts (daily, one run)")
        dbt = run_range(
            defs,
            instance,
            AssetSelection.assets("ad_spend", *shopper_dbt_assets.keys)
            | AssetSelection.assets(
                "data_quality_daily", "data_quality_losses_daily", *shopper_quality_dbt_assets.keys
            ),
            f"{day:%Y-%m-%d}",
            f"{last_day:%Y-%m-%d}",
        )
        checks += list(dbt.get_asset_check_evaluations())
        ok = dbt.success
        echo(f"  run {dbt.run_id}: {'success' if dbt.success else 'FAILED'}")
    else:
        echo("\n[3/4] Skipped dbt: the lake run failed (see check results below)")
    if ok:
        echo("\n[4/4] Building the whole-history marts: LTV, cohorts, trends, recommendations (one run)")
        history = materialize(
            assets=list(defs.assets),
            resources=defs.resources,
            instance=instance,
            selection=AssetSelection.assets(*shopper_history_dbt_assets.keys),
            raise_on_error=False,
        )
        checks += list(history.get_asset_check_evaluations())
        ok = history.success
        echo(f"  run {history.run_id}: {'success' if history.success else 'FAILED'}")

    _print_stage_counts(settings, day, last_day, echo)
    failed = [c for c in checks if not c.passed]
    echo(f"\nAsset checks: {sum(c.passed for c in checks)} passed, {len(failed)} not passed")
    for c in sorted(checks, key=lambda c: (c.passed, c.asset_key.to_user_string(), c.check_name)):
        if not c.passed or c.asset_key.to_user_string() == "cleaned_events":
            echo(_describe_check(c))
    if ok:
        print_kpis(settings, last_day, echo)
    echo(f"\nDuckDB warehouse: {settings.duckdb_path}")
    echo(f"Open the UI:      DAGSTER_HOME={home} dagster dev -w {REPO_ROOT / 'workspace.yaml'}")
    echo("Result:           " + ("OK" if ok else "FAILED"))
    return ok


def _print_stage_counts(settings: Settings, first: date, last: date, echo: Echo) -> None:
    from shopper_assets.deployments import resources_for

    start = datetime(first.year, first.month, first.day)
    end = datetime(last.year, last.month, last.day) + timedelta(days=1)
    with resources_for(settings)["lake"].session() as session:
        counts = {t: session.count(t, start, end) for t in LAKE_ASSETS}
        reasons = session.con.execute(
            f"SELECT reason, count(*) FROM ({session.scan('quarantined_events', start, end)}) "
            "GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    echo("\nRows per stage:")
    echo(f"  raw_events          {counts['raw_events']:>12,}")
    echo(f"  cleaned_events      {counts['cleaned_events']:>12,}")
    echo(
        f"  quarantined_events  {counts['quarantined_events']:>12,}"
        + (f"  ({', '.join(f'{r}: {n:,}' for r, n in reasons)})" if reasons else "")
    )
    echo(f"  duplicates dropped  {counts['raw_events'] - counts['cleaned_events'] - counts['quarantined_events']:>12,}")


def print_kpis(settings: Settings, day: date | None, echo: Echo = print) -> bool:
    """KPI summary of a day from the published marts; False when there is nothing to show.

    Locally it reads the serving copy (never the warehouse file, which runs keep writing), in prod
    Postgres; see shopper_assets/serving.
    """
    from shopper_assets.serving.marts import NOTHING_PUBLISHED, not_built_message
    from shopper_assets.serving.reader import ReadError, open_reader
    from shopper_assets.transform import format_kpi_summary, kpi_summary

    reader = open_reader(settings)
    try:
        with reader.snapshot() as snapshot:
            if snapshot.version is None and not snapshot.marts:
                echo(NOTHING_PUBLISHED)
                return False
            if not snapshot.has("kpi_daily"):
                echo(not_built_message("kpi_daily"))
                return False
            if day is None:
                day = snapshot.execute("SELECT max(event_date) FROM marts.kpi_daily").fetchone()[0]
                if day is None:
                    echo("kpi_daily is empty: run `shopper demo` first.")
                    return False
            summary = kpi_summary(snapshot, day)
            published = (
                f"published version {snapshot.version}, {snapshot.age_seconds:,.0f} s ago"
                if snapshot.version
                else "no published version recorded"
            )
    except ReadError as exc:
        echo(f"Cannot read the published marts: {exc}")
        return False
    finally:
        reader.close()
    if not summary:
        echo(f"No KPIs for {day} ({published}).")
        return False
    echo("\n" + format_kpi_summary(summary))
    echo(f"\n({published})")
    return True
