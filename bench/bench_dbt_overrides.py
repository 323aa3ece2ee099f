"""What the two private overrides of ``ShopperDbtCliResource`` save (docs/private-apis.md).

Materializes one daily partition of the dbt assets through Dagster, each time in a fresh process
(as a run worker does: dbt imports and the profile are not warm), in three variants:

* ``ours``: the resource as shipped (``_cli_version`` from the package metadata, no dbt adapter in the
  Dagster process);
* ``dagster_version``: dagster-dbt's own ``_cli_version`` (runs ``dbt --version``);
* ``dagster_adapter``: dagster-dbt's own ``_initialize_dbt_core_adapter`` (a DuckDB adapter in process).

First, each hook on its own, in a fresh process that has imported the code location (as a run
worker has when its dbt step starts): dagster-dbt's and this project's ``_cli_version``, and
dagster-dbt's ``_initialize_dbt_core_adapter`` (this project's returns None at once). Then prints,
per variant, the wall seconds of the ``materialize`` call and when the first and the last dbt
model materialization reached Dagster (seconds after the step started): with the adapter, dagster-dbt
holds results back until dbt exits, so first ~ last.

    .venv/bin/python bench/bench_dbt_overrides.py [--events-per-day 5000] [--repeat 3] [--hooks-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

VARIANTS = ("ours", "dagster_version", "dagster_adapter")
DAY = date(2026, 3, 2)


HOOKS = ("dagster _cli_version", "ours _cli_version", "dagster _initialize_dbt_core_adapter")


def hook(name: str) -> None:
    from dagster_dbt import DbtCliResource

    from shopper_assets.transform import dbt_resource, shopper_dbt_assets  # noqa: F401 (as a run worker)

    resource = dbt_resource()
    began = time.perf_counter()
    if name == "dagster _cli_version":
        DbtCliResource._cli_version.func(resource)
    elif name == "ours _cli_version":
        type(resource)._cli_version.func(resource)
    else:
        DbtCliResource._initialize_dbt_core_adapter(resource, ["build"])
    print(json.dumps({"seconds": time.perf_counter() - began}))


def child(variant: str) -> None:
    from dagster import DagsterEventType, DagsterInstance, materialize
    from dagster_dbt import DbtCliResource

    from shopper_assets.deployments import resources_for
    from shopper_assets.settings import Settings
    from shopper_assets.transform import dbt_resource, shopper_dbt_assets
    from shopper_assets.transform.resources import ShopperDbtCliResource

    if variant == "dagster_version":
        del ShopperDbtCliResource._cli_version  # dagster-dbt's own cached property again
    elif variant == "dagster_adapter":
        ShopperDbtCliResource._initialize_dbt_core_adapter = DbtCliResource._initialize_dbt_core_adapter
    resources = {"dbt": dbt_resource(), "serving": resources_for(Settings.from_env())["serving"]}
    instance = DagsterInstance.ephemeral()
    began = time.perf_counter()
    result = materialize([shopper_dbt_assets], partition_key=DAY.isoformat(), resources=resources, instance=instance)
    wall = time.perf_counter() - began
    assert result.success
    events = instance.all_logs(result.run_id)
    start = next(e.timestamp for e in events if e.dagster_event_type == DagsterEventType.STEP_START)
    mats = [e.timestamp - start for e in events if e.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION]
    print(json.dumps({"wall": wall, "first": min(mats), "last": max(mats), "n": len(mats)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events-per-day", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hooks-only", action="store_true", help="skip the whole-run comparison")
    parser.add_argument("--child")
    parser.add_argument("--hook")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.hook:
        hook(args.hook)
        return

    work = Path(tempfile.mkdtemp(prefix="shopper-bench-overrides-"))
    env = {
        **os.environ,
        "SHOPPER_ENV": "local",
        "SHOPPER_DATA_DIR": str(work),
        "SHOPPER_DUCKDB_PATH": str(work / "shopper.duckdb"),
    }
    os.environ.update(env)
    from shopper_assets.generator import GeneratorConfig
    from shopper_assets.transform.warehouse import load_generated

    n = load_generated(work / "shopper.duckdb", GeneratorConfig(start=DAY, days=1, events_per_day=args.events_per_day))
    print(f"{n:,} events in {work}")

    def median_of(option: str, value: str, key: str) -> float:
        figures = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, __file__, option, value], env=env, capture_output=True, text=True, check=True
            )
            figures.append(json.loads(out.stdout.strip().splitlines()[-1])[key])
        return statistics.median(figures)

    for name in HOOKS:
        print(f"{name:<40} {median_of('--hook', name, 'seconds'):6.2f} s   (median of {args.repeat})", flush=True)
    if args.hooks_only:
        return
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for i in range(args.repeat + 1):  # the first round warms the parse cache and the page cache
        for variant in VARIANTS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", variant], env=env, capture_output=True, text=True, check=True
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            if i:
                runs[variant].append(figures)
    for variant, figures in runs.items():
        med = {k: statistics.median(f[k] for f in figures) for k in ("wall", "first", "last")}
        print(
            f"{variant:<16} materialize {med['wall']:6.2f} s   first model {med['first']:6.2f} s"
            f"   last model {med['last']:6.2f} s   (median of {len(figures)})"
        )


if __name__ == "__main__":
    main()
