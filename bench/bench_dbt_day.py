"""The day's dbt step as issue 19's batch day runs it: ``dagster job execute -j marts_job`` for one day, on a
warehouse whose lake holds the day (built once), restored before every build so each one is the day's
first build - where its seconds go, and the same for other checkouts of the code, side by side.

    python bench/bench_dbt_day.py --platform DIR [--landing DATA_DIR] [--checkout NAME=PATH ...] [--rounds N]

* ``--platform DIR`` (kept between runs): its ``landing`` links to ``DATA_DIR/landing`` (``--landing``, the
  generator's folder, as ``bench_floor.py --landing``); the first use builds the lake of the day there
  through Dagster's CLI (``dagster asset materialize`` of the lake step's 24 hours, untimed) and keeps a copy
  of the warehouse (``base/shopper.duckdb``: the lake views; the lake itself is Parquet under ``lake/``,
  which the dbt step only reads, its ``ad_spend`` step rewriting the day's ad-spend partition).
* each build restores that copy, drops the published serving copies and starts on a fresh Dagster
  instance, then times ``dagster job execute -j marts_job`` for the day from start to exit (as
  ``bench_floor.py`` does), with its CPU seconds (the command and its dbt subprocess) and peak RSS;
* ``--checkout NAME=PATH`` runs the code of another checkout (e.g. ``git archive main | tar -x -C
  /tmp/main``) with this virtualenv (``PYTHONPATH``): the checkouts and this one alternate in every round.

Printed per build: the phases of the command from the run's event log and the dbt invocation's artifacts
(process start and code-location load, creating the run (its planned-materialization events), the
ad-spend step, the dbt step: dbt's start and parse, its nodes, the publish of the serving copy and the
events held for it, the run's end), the nodes' seconds from ``run_results.json`` (models and tests) and a
digest of every table the build wrote (schemas intermediate and marts), which must be equal across checkouts
(the marts' numbers did not change). ``--profile`` also runs the command under cProfile and prints where the
Dagster process spent its time (SQLite event-log writes, waiting for dbt, the publish). ``--replay`` then
runs the SQL dbt ran (the invocation's ``run/`` folder and its tests' compiled SQL) again, node after node,
in one DuckDB connection with the profile's settings on another restored copy, and prints each node's CPU
seconds: dbt's own per-node times are wall times of nodes sharing the cores with each other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
from common import run_measured  # bench/common.py

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
LAKE_ASSETS = "raw_events,cleaned_events,quarantined_events"
LOCATION = ["-m", "shopper_assets.definitions"]
WRITTEN_SCHEMAS = ("intermediate", "marts")
#: what the profile of the Dagster process reports: label -> (file suffix, function) of the frame summed
PROFILED = {
    "event log writes (SQLite store_event)": ("sqlite_event_log.py", "store_event"),
    "  of them: creating the run (planned events)": ("run_domain.py", "_log_asset_planned_events"),
    "waiting for dbt's output": ("dbt_cli_invocation.py", "_stream_stdout"),
    "publish (serving copy, row counts)": ("store.py", "publish"),
}


@dataclass
class Build:
    """One timed ``dagster job execute`` of the day and what it left."""

    checkout: str
    seconds: float
    cpu: float
    peak_mb: float
    tree_peak_mb: float
    phases: dict[str, float] = field(default_factory=dict)
    nodes: list[dict] = field(default_factory=list)
    events: Counter = field(default_factory=Counter)
    digest: dict[str, tuple[int, str]] = field(default_factory=dict)
    profile: dict[str, float] = field(default_factory=dict)
    invocation: Path | None = None


def environment(platform: Path, home: Path, day: date, checkout: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPPER_", "DAGSTER_", "PYTHONPATH"))}
    env.update(
        SHOPPER_ENV="local",
        SHOPPER_DATA_DIR=str(platform),
        SHOPPER_START_DATE=day.isoformat(),
        DAGSTER_HOME=str(home),
        PYTHONPATH=str(checkout),  # before this virtualenv's editable install of the package
    )
    return env


def fresh_home(platform: Path, checkout: Path) -> Path:
    home = platform / "dagster_home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    shutil.copy(checkout / "dagster.yaml", home / "dagster.yaml")
    return home


def prepare(platform: Path, landing: Path | None, day: date) -> Path:
    """The platform folder with the day's lake built, and the warehouse copy every build starts from."""
    base = platform / "base" / "shopper.duckdb"
    if base.exists():
        return base
    platform.mkdir(parents=True, exist_ok=True)
    if not (platform / "landing").exists():
        if landing is None:
            sys.exit(f"{platform} has no landing folder: give --landing DATA_DIR (a folder holding landing/)")
        (platform / "landing").symlink_to((landing / "landing").absolute(), target_is_directory=True)
    env = environment(platform, fresh_home(platform, REPO), day, REPO)
    hours = f"{day}-00:00...{day}-23:00"
    command = [str(DAGSTER), "asset", "materialize", *LOCATION, "--select", LAKE_ASSETS, "--partition-range", hours]
    print(f"building the lake of {day} in {platform} (untimed) ...", flush=True)
    lake = run_measured(command, platform / "lake.log", env=env, cwd=REPO)
    if lake.returncode:
        sys.exit(f"the lake step failed: {platform / 'lake.log'}")
    print(f"lake step: {lake.seconds:.1f} s, peak RSS {lake.process_peak_mb:,.0f} MB")
    base.parent.mkdir(exist_ok=True)
    shutil.copy(platform / "shopper.duckdb", base)
    return base


def restore(platform: Path, base: Path) -> None:
    for name in ("shopper.duckdb", "shopper.duckdb.wal"):
        (platform / name).unlink(missing_ok=True)
    shutil.copy(base, platform / "shopper.duckdb")
    shutil.rmtree(platform / "serving", ignore_errors=True)


def build(platform: Path, base: Path, day: date, name: str, checkout: Path, profile: bool) -> Build:
    """Restore the warehouse, run marts_job for ``day`` with ``checkout``'s code, and collect the figures."""
    restore(platform, base)
    home = fresh_home(platform, checkout)
    env = environment(platform, home, day, checkout)
    tags = json.dumps({f"dagster/asset_partition_range_{end}": day.isoformat() for end in ("start", "end")})
    command = [str(DAGSTER), "job", "execute", *LOCATION, "-j", "marts_job", "--tags", tags]
    prof = platform / f"marts_{name}.prof"
    if profile:
        command = [sys.executable, "-m", "cProfile", "-o", str(prof), *command]
    log = platform / f"marts_{name}.log"
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured = run_measured(command, log, env=env, cwd=checkout)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if measured.returncode:
        print(log.read_text(errors="replace")[-3000:])
        sys.exit(f"marts_job failed with {name} (exit status {measured.returncode}): {log}")
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    result = Build(name, measured.seconds, cpu, measured.process_peak_mb, measured.tree_peak_mb)
    started_at = time.time() - measured.seconds
    run_id = _read_run(home, result, started_at)
    _read_dbt(checkout, run_id, result)
    result.digest = digest(platform / "shopper.duckdb", day)
    if profile:
        result.profile = profiled(prof)
    return result


def _read_run(home: Path, result: Build, started_at: float) -> str:
    """Phases of the command from the run's event log (timestamps of its events and log lines)."""
    os.environ["DAGSTER_HOME"] = str(home)
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        logs = instance.all_logs(run.run_id)
        planned = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        record = instance.get_run_record_by_id(run.run_id)
    marks: dict[str, float] = {}
    for entry in logs:
        event = entry.dagster_event
        if event is None:
            message = entry.user_message
            for label, text in (("dbt_started", "Running dbt command"), ("dbt_exited", "Finished dbt command")):
                if message.startswith(text):
                    marks.setdefault(label, entry.timestamp)
            if message.startswith("Published serving version"):
                marks["published"] = entry.timestamp
            continue
        result.events[event.event_type_value] += 1
        kind, step = event.event_type, event.step_key
        if kind == DagsterEventType.RUN_START:
            marks["run_start"] = entry.timestamp
        elif kind == DagsterEventType.STEP_START:
            marks[f"{step}_start"] = entry.timestamp
        elif kind == DagsterEventType.STEP_SUCCESS:
            marks[f"{step}_end"] = entry.timestamp
        elif kind == DagsterEventType.RUN_SUCCESS:
            marks["run_end"] = entry.timestamp
    result.events["ASSET_MATERIALIZATION_PLANNED (at run creation)"] = len(planned.records)
    created = record.create_timestamp.timestamp()
    ended = started_at + result.seconds

    def span(a: str | float, b: str | float) -> float:
        return (marks[b] if isinstance(b, str) else b) - (marks[a] if isinstance(a, str) else a)

    dbt_step = "shopper_dbt_assets"
    result.phases = {
        "process start, code location, run creation": span(started_at, "run_start"),
        "  of it: until the run record exists": created - started_at,
        "ad_spend step": span("ad_spend_start", "ad_spend_end"),
        "between the steps": span("ad_spend_end", f"{dbt_step}_start"),
        "dbt step": span(f"{dbt_step}_start", f"{dbt_step}_end"),
        "  until dbt starts": span(f"{dbt_step}_start", "dbt_started"),
        "  dbt process (start to exit)": span("dbt_started", "dbt_exited"),
        "  publish (serving copy, row counts)": span("dbt_exited", "published"),
        "  held events to the event log": span("published", f"{dbt_step}_end"),
        "run end to command exit": span(f"{dbt_step}_end", ended),
    }
    return run.run_id


def _read_dbt(checkout: Path, run_id: str, result: Build) -> None:
    """dbt's own split of its process: start and parse (before the first node), nodes, and per node seconds."""
    target = checkout / "dbt" / "target"
    folders = sorted(target.glob(f"shopper_dbt_assets-{run_id[:7]}-*"), key=lambda p: p.stat().st_mtime)
    if not folders:
        return
    results = json.loads((folders[-1] / "run_results.json").read_text())
    result.nodes = results["results"]
    result.invocation = folders[-1]
    elapsed = results["elapsed_time"]
    process = result.phases["  dbt process (start to exit)"]
    result.phases["    dbt start, parse, adapter (process - run)"] = process - elapsed
    result.phases["    dbt run of the nodes (elapsed_time)"] = elapsed


def digest(path: Path, day: date) -> dict[str, tuple[int, str]]:
    """Per table of the schemas dbt writes: its rows and a hash of them (doubles rounded to 9 significant
    digits: parallel sums may differ in the last bits), order-independent."""
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            f"WHERE table_schema IN {WRITTEN_SCHEMAS} AND table_type = 'BASE TABLE' ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, table],
            ).fetchall()
            values = [
                f'CASE WHEN "{c}" = 0 THEN 0 ELSE round("{c}", 8 - CAST(floor(log10(abs("{c}"))) AS INTEGER)) END'
                if t in ("DOUBLE", "FLOAT")
                else f'"{c}"'
                for c, t in columns
            ]
            rows, hashed = con.execute(
                f"SELECT count(*), coalesce(sum(hash({', '.join(values)})::HUGEINT), 0) FROM {schema}.{table}"
            ).fetchone()
            out[f"{schema}.{table}"] = (rows, hashlib.sha1(str(hashed).encode()).hexdigest()[:10])
    return out


def profiled(path: Path) -> dict[str, float]:
    """Cumulative seconds of the Dagster process in the frames of ``PROFILED``."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    out = {}
    for label, (suffix, function) in PROFILED.items():
        out[label] = sum(
            cumulative
            for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items()
            if filename.endswith(suffix) and name == function
        )
    return out


def replay(b: Build, checkout: Path, platform: Path, base: Path, top: int) -> None:
    """Each node's SQL again, serially, with its CPU seconds (this process's, DuckDB's threads included)."""
    import yaml

    if b.invocation is None:
        return
    scratch = platform / "replay" / "shopper.duckdb"  # the file name is the catalog name dbt's SQL uses
    scratch.parent.mkdir(exist_ok=True)
    restore(scratch.parent, base)
    profile = yaml.safe_load((checkout / "dbt" / "profiles.yml").read_text())["shopper"]["outputs"]["local"]
    manifest = json.loads((b.invocation / "manifest.json").read_text())["nodes"]
    timed = []
    with duckdb.connect(str(scratch)) as con:
        con.execute("SET TimeZone = 'UTC'")
        for name, value in (profile.get("settings") or {}).items():
            con.execute(f"SET {name} = {value if isinstance(value, int | float) else repr(str(value).lower())}")
        for schema in ("staging", "intermediate", "marts"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for result in b.nodes:  # completion order respects the dependencies
            node = manifest[result["unique_id"]]
            if node["resource_type"] == "test":
                sql = f"SELECT count(*) FROM ({node['compiled_code']}) AS failures"
            else:
                sql = (b.invocation / "run" / "shopper" / node["original_file_path"]).read_text()
            cpu0, t0 = _cpu(), time.perf_counter()
            con.execute(sql).fetchall()
            timed.append((_cpu() - cpu0, time.perf_counter() - t0, node["resource_type"], node["name"]))
            staged = f"{node['name']}__dbt_tmp"  # a first build's table or view, renamed into place by dbt
            found = con.execute(
                "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [node["schema"], staged],
            ).fetchall()
            if found:
                kind = "VIEW" if found[0][0] == "VIEW" else "TABLE"
                con.execute(f'ALTER {kind} {node["schema"]}."{staged}" RENAME TO "{node["name"]}"')
    for kind in ("model", "test"):
        rows = [t for t in timed if t[2] == kind]
        cpu, wall = sum(t[0] for t in rows), sum(t[1] for t in rows)
        print(f"  replay: {len(rows)} {kind}s {cpu:.1f} s CPU, {wall:.1f} s wall")
    for cpu, wall, kind, name in sorted(timed, reverse=True)[:top]:
        print(f"    {cpu:6.2f} s CPU {wall:6.2f} s wall  {kind} {name[:90]}")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def print_build(b: Build, top: int) -> None:
    print(
        f"\n== {b.checkout}: marts_job {b.seconds:.1f} s wall, {b.cpu:.1f} s CPU (command and dbt), peak RSS "
        f"{b.peak_mb:,.0f} MB (largest process), {b.tree_peak_mb:,.0f} MB (process tree, sampled)"
    )
    for label, seconds in b.phases.items():
        print(f"  {label:<48} {seconds:7.2f} s")
    if b.profile:
        print("  profile of the Dagster process (cumulative seconds):")
        for label, seconds in b.profile.items():
            print(f"    {label:<46} {seconds:7.2f} s")
    events = ", ".join(f"{n} {k}" for k, n in b.events.most_common())
    print(f"  event log: {sum(b.events.values())} events ({events})")
    models = [r for r in b.nodes if r["unique_id"].startswith("model.")]
    tests = [r for r in b.nodes if r["unique_id"].startswith("test.")]
    print(
        f"  dbt nodes: {len(models)} models {sum(r['execution_time'] for r in models):.1f} s, "
        f"{len(tests)} tests {sum(r['execution_time'] for r in tests):.1f} s (summed over dbt's threads)"
    )
    for r in sorted(b.nodes, key=lambda r: -r["execution_time"])[:top]:
        print(f"    {r['execution_time']:6.2f} s  {r['unique_id'].split('.', 1)[1][:100]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", type=Path, required=True, help="kept folder: landing link, lake, base copy")
    parser.add_argument("--landing", type=Path, help="a data dir holding the day's landing/ (first use)")
    parser.add_argument("--day", default="2026-11-20")
    parser.add_argument(
        "--checkout", action="append", default=[], metavar="NAME=PATH", help="also time another checkout's code"
    )
    parser.add_argument("--only-checkouts", action="store_true", help="do not time this checkout")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--top", type=int, default=15, help="slowest dbt nodes listed")
    parser.add_argument("--profile", action="store_true", help="run the command under cProfile")
    parser.add_argument("--replay", action="store_true", help="replay each build's SQL and time each node's CPU")
    args = parser.parse_args()
    day = date.fromisoformat(args.day)
    platform = args.platform.absolute()
    base = prepare(platform, args.landing, day)
    checkouts = dict(c.split("=", 1) for c in args.checkout)
    variants = {name: Path(path).absolute() for name, path in checkouts.items()}
    if not args.only_checkouts:
        variants["this"] = REPO
    for name, checkout in variants.items():  # untimed: each checkout's dbt manifest, warm file caches
        env = environment(platform, fresh_home(platform, checkout), day, checkout)
        validate = subprocess.run(
            [str(DAGSTER), "definitions", "validate", *LOCATION], env=env, cwd=checkout, capture_output=True
        )
        if validate.returncode:
            sys.exit(f"{name}: dagster definitions validate failed\n{validate.stdout.decode()[-3000:]}")
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} at {datetime.now():%H:%M:%S}")
    builds: list[Build] = []
    for round_ in range(args.rounds):
        for name, checkout in variants.items():
            b = build(platform, base, day, f"{name}-{round_ + 1}", checkout, args.profile)
            b.checkout = name
            print_build(b, args.top)
            if args.replay:
                replay(b, checkout, platform, base, args.top)
            builds.append(b)
    print(f"\nload average {', '.join(f'{x:.2f}' for x in os.getloadavg())} at {datetime.now():%H:%M:%S}")
    if len(builds) > 1:
        summary(builds)


def summary(builds: list[Build]) -> None:
    print(f"\n{'build':<10} {'wall s':>7} {'CPU s':>7} {'dbt step':>8} {'dbt proc':>8} {'nodes':>7} {'peak MB':>8}")
    for b in builds:
        p = b.phases
        print(
            f"{b.checkout:<10} {b.seconds:7.1f} {b.cpu:7.1f} {p['dbt step']:8.1f} "
            f"{p['  dbt process (start to exit)']:8.1f} {p.get('    dbt run of the nodes (elapsed_time)', 0):7.1f} "
            f"{b.peak_mb:8,.0f}"
        )
    first = builds[0].digest
    differ = sorted(
        name for b in builds[1:] for name in set(first) | set(b.digest) if first.get(name) != b.digest.get(name)
    )
    if differ:
        print(f"tables that differ between builds: {', '.join(sorted(set(differ)))}")
        for name in sorted(set(differ)):
            print(f"  {name}: " + ", ".join(f"{b.checkout} {b.digest.get(name)}" for b in builds))
        sys.exit(1)
    print(f"every table the builds wrote is equal across them ({len(first)} tables)")


if __name__ == "__main__":
    main()
