"""``shopper demo``: the main job on the embedded default, end to end, with a readable summary.

It generates the day(s), then runs the named jobs of ``automation/jobs.py`` once each: ``lake_job``
(the hourly lake as one range run), ``marts_job`` (ad spend and the daily dbt models, one range
run) and ``history_job`` (the whole-history marts). They are recorded in the Dagster instance under
``$DAGSTER_HOME`` (``$SHOPPER_DATA_DIR/dagster_home`` by default), so ``shopper ui`` shows the runs,
materializations and check results. Dagster's and dbt's logs appear only with ``verbose``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

from dagster import AssetCheckEvaluation, DagsterInstance

from shopper_assets.deployments import resources_for
from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.generator.traffic import events_for_day
from shopper_assets.inputs import start_moved
from shopper_assets.partitions import partitions_from
from shopper_assets.serving.marts import NOTHING_PUBLISHED, not_built_message
from shopper_assets.serving.reader import ReadError, open_reader
from shopper_assets.settings import Settings, record_start_date
from shopper_assets.transform import (
    build_dbt_assets,
    build_dbt_project,
    dbt_resource,
    ensure_manifest,
    format_kpi_summary,
    kpi_summary,
)

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


@contextlib.contextmanager
def quiet_dagster(verbose: bool) -> Iterator[dict]:
    """Run config for the demo's runs: Dagster's console log (dbt's output included) only when
    ``verbose``; without it, Dagster's Python loggers and its Beta/Preview warnings are silenced too."""
    if verbose:
        yield {}
        return
    from dagster import BetaWarning, PreviewWarning

    dagster_logger = logging.getLogger("dagster")
    level = dagster_logger.level
    dagster_logger.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        warnings.simplefilter("ignore", PreviewWarning)
        try:
            yield {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
        finally:
            dagster_logger.setLevel(level)


CODE_LOCATION = "shopper_assets"  # workspace.yaml's location_name: what the UI's Overview groups runs by
DEFINITIONS_MODULE = "shopper_assets.definitions"


def job_run(instance: DagsterInstance, name: str, run_config: dict, tags: dict[str, str]):
    """A run of job ``name`` recorded as launched from this project's code location, executed here.

    Dagster's public ways of running a job in process (``execute_in_process``, ``execute_job``)
    record a run without a code location, and the UI's Overview timeline leaves such runs out: the
    demo's runs would show in *Runs* only. So the run is created with the origin ``dagster dev``
    gives its own runs (location ``shopper_assets``, repository ``__repository__``) and executed
    with ``execute_run``; both are internal APIs, and ``tests/serving/test_demo_output.py`` fails when they
    change (the demo's runs then lose their location), or when ``execute_in_process`` records an origin
    itself (then it can replace them). Why no public way does it: docs/private-apis.md.
    """
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    repository = ReconstructableRepository.for_module(DEFINITIONS_MODULE, "defs", str(REPO_ROOT))
    job = repository.get_reconstructable_job(name)
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE),
        location_name=CODE_LOCATION,
    )
    run = instance.create_run_for_job(
        job_def=job.get_definition(),
        run_config=run_config,
        tags=tags,
        remote_job_origin=RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), name),
        job_code_origin=job.get_python_origin(),
    )
    return execute_run(job, run, instance, raise_on_error=False)


def run_job(instance: DagsterInstance, name: str, run_config: dict, tags: dict[str, str] | None = None):
    """Run one of the named jobs, recorded in ``instance`` (a range run: range tags).

    Returns the result and what the run printed: dagster-dbt writes dbt's log lines to stdout itself,
    so without ``verbose`` (a run config) they are kept here; the summary quotes the dbt errors.
    """
    if not run_config:
        return job_run(instance, name, run_config, tags or {}), ""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        result = job_run(instance, name, run_config, tags or {})
    return result, printed.getvalue()


def describe_check(e: AssetCheckEvaluation) -> str:
    """``[FAIL] model.check: why`` (the check's description or failure metadata)."""
    status = "PASS" if e.passed else ("WARN" if e.severity.value == "WARN" else "FAIL")
    line = f"  [{status}] {e.asset_key.to_user_string()}.{e.check_name}"
    if e.passed:
        return line
    why = [e.description] if e.description else []
    why += [f"{k} {v.value}" for k, v in e.metadata.items() if "fail" in k or "reason" in k or "status" in k]
    return line + (": " + "; ".join(str(w) for w in why if w) if why else "")


def run_failures(result, printed: str) -> list[str]:
    """One line per failed step of a run (the step and the first line of its error), and dbt's error lines."""
    lines = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        message = (error.message if error else "unknown error").strip().splitlines()
        lines.append(f"  step {event.step_key} failed: {message[0] if message else 'unknown error'}")
    if lines:
        lines += [f"    dbt: {line.strip()}" for line in printed.splitlines() if "ERROR" in line or "FAIL " in line][
            :10
        ]
    return lines


def run_demo(
    settings: Settings,
    day: date,
    days: int,
    events_per_day: int,
    seed: int,
    echo: Echo = print,
    verbose: bool = False,
) -> bool:
    ensure_dagster_home(settings)
    before, settings = settings, record_start_date(settings, day)  # before the definitions are built
    if moved := start_moved(before, settings):
        echo(moved)
    last_day = day + timedelta(days=days - 1)
    planned = sum(events_for_day(day + timedelta(days=i), events_per_day) for i in range(days))
    span = f"{day:%A} {day}" if days == 1 else f"{days} days, {day} to {last_day}"
    echo(f"Shopper Analytics demo: {span}, {planned:,} events, data in {settings.data_dir}")
    echo(f"  ({events_per_day:,} events/day is the weekly average: each weekday has its own traffic, weekends busiest)")

    echo("\n[1/5] Generating shopper events into the landing zone")
    generated = write_landing(
        GeneratorConfig(start=day, days=days, events_per_day=events_per_day, seed=seed),
        settings.data_dir,
        progress=True,
    )
    echo(f"  {generated.events:,} lines, {len(generated.files)} files ({generated.seconds:.1f} s)")
    return process_days(settings, day, last_day, echo, verbose, steps=5)


def process_days(
    settings: Settings, day: date, last_day: date, echo: Echo = print, verbose: bool = False, steps: int = 4
) -> bool:
    """Run lake_job, marts_job, quality_job and history_job over whole days already landed, then print the rows per
    stage, the checks, the last day's KPIs and how to open the UI (``shopper demo``, ``shopper backfill``)."""
    home = ensure_dagster_home(settings)
    instance = DagsterInstance.get()
    first_step = steps - 3
    with quiet_dagster(verbose) as run_config:
        results = []

        def step(number: int, title: str, job: str, tags: dict[str, str] | None = None) -> bool:
            echo(f"\n[{number}/{steps}] {title} ({job})")
            started = time.monotonic()
            result, printed = run_job(instance, job, run_config, tags)
            results.append(result)
            took = time.monotonic() - started
            echo(f"  run {result.run_id[:8]}: {'success' if result.success else 'FAILED'} ({took:.1f} s)")
            for line in run_failures(result, printed):
                echo(line)
            return result.success

        ok = step(
            first_step,
            "Materializing raw_events -> cleaned_events + quarantined_events, every hour in one run",
            "lake_job",
            partition_range_tags(f"{day:%Y-%m-%d}-00:00", f"{last_day:%Y-%m-%d}-23:00"),
        )
        ok = ok and step(
            first_step + 1,
            "Landing ad spend, building the dbt star schema, KPIs and daily marts, every day in one run",
            "marts_job",
            partition_range_tags(f"{day:%Y-%m-%d}", f"{last_day:%Y-%m-%d}"),
        )
        ok = ok and step(
            first_step + 2,
            "Scoring each day's data quality and building its marts, every day in one run",
            "quality_job",
            partition_range_tags(f"{day:%Y-%m-%d}", f"{last_day:%Y-%m-%d}"),
        )
        ok = ok and step(
            first_step + 3, "Building the whole-history marts: LTV, cohorts, trends, recommendations", "history_job"
        )
        if not ok:
            echo("\nStopped: the steps after a failed run were not run.")

    checks = [c for result in results for c in result.get_asset_check_evaluations()]
    if results and results[0].success:
        _print_stage_counts(settings, day, last_day, echo)
    print_check_summary(checks, echo, dbt_model_names(settings))
    if ok:
        print_kpis(settings, last_day, echo)
    echo(f"\nDuckDB warehouse: {settings.duckdb_path}")
    echo(f"Dagster instance: {home}")
    echo(f"Open the UI:      {ui_command(settings)}   (http://127.0.0.1:3000, Ctrl-C stops it)")
    echo("Result:           " + ("OK" if ok else "FAILED"))
    return ok


def ui_command(settings: Settings) -> str:
    """The command that opens the UI on this demo's instance and data, runnable as printed from here."""
    shopper = Path(sys.executable).parent / "shopper"
    with contextlib.suppress(ValueError):
        shopper = shopper.relative_to(Path.cwd())
    default_home = (settings.data_dir / "dagster_home").absolute()  # what `shopper ui` uses without DAGSTER_HOME
    env = {}
    for name in ("SHOPPER_DATA_DIR", "SHOPPER_DUCKDB_PATH", "SHOPPER_START_DATE", "DAGSTER_HOME"):
        if os.environ.get(name) and not (name == "DAGSTER_HOME" and Path(os.environ[name]) == default_home):
            env[name] = str(settings.data_dir) if name == "SHOPPER_DATA_DIR" else os.environ[name]
    return " ".join([*(f"{k}={_quote(v)}" for k, v in env.items()), str(shopper), "ui"])


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def dbt_model_names(settings: Settings) -> set[str]:
    """The daily and whole-history dbt models, whose tests the summary groups by model."""
    project = build_dbt_project(settings)
    ensure_manifest(project, dbt_resource(settings))
    models = build_dbt_assets(project, partitions_from(settings.start_date).daily)
    return {k.to_user_string() for k in (*models.daily.keys, *models.history.keys)}


def print_check_summary(
    checks: list[AssetCheckEvaluation], echo: Echo, dbt_models: Collection[str] | None = None
) -> None:
    """Each lake check, then the dbt tests grouped by model; every check that did not pass spelled out.
    ``dbt_models``: see ``dbt_model_names`` (default: those of the environment's settings)."""
    dbt_models = dbt_model_names(Settings.from_env()) if dbt_models is None else dbt_models
    lake = [c for c in checks if c.asset_key.to_user_string() not in dbt_models]
    dbt = [c for c in checks if c.asset_key.to_user_string() in dbt_models]
    failed = [c for c in checks if not c.passed]
    echo(f"\nAsset checks: {len(checks) - len(failed)} passed, {len(failed)} not passed")
    by_check: dict[str, list[AssetCheckEvaluation]] = defaultdict(list)
    for c in lake:
        by_check[f"{c.asset_key.to_user_string()}.{c.check_name}"].append(c)
    if by_check:
        echo("  Lake and ad-spend checks:")
    for name, evaluations in sorted(by_check.items()):
        bad = [e for e in evaluations if not e.passed]
        status = "PASS" if not bad else ("WARN" if all(e.severity.value == "WARN" for e in bad) else "FAIL")
        echo(f"    [{status}] {name}")
    by_model: dict[str, list[AssetCheckEvaluation]] = defaultdict(list)
    for c in dbt:
        by_model[c.asset_key.to_user_string()].append(c)
    if by_model:
        echo(f"  dbt tests ({len(dbt)}) by model:")
        width = max(map(len, by_model))
        for model, evaluations in sorted(by_model.items()):
            passed = sum(e.passed for e in evaluations)
            echo(f"    {model:<{width}}  {passed} of {len(evaluations)} passed")
    if failed:
        echo("  Not passed:")
        for c in sorted(failed, key=lambda c: (c.asset_key.to_user_string(), c.check_name)):
            echo("  " + describe_check(c))


def _print_stage_counts(settings: Settings, first: date, last: date, echo: Echo) -> None:
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
