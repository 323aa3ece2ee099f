"""The floor: what a bare DuckDB script does with the same landing files, on this machine.

    python bench/bench_floor.py --events-per-day 10000000 [--landing DATA_DIR]

The lake targets were set against "a bare DuckDB script cleans 10M events in ~9 s". This script is
that bare script, so the lake's figures (bench_lake.py) can be read against what this machine can
do at all. Each stage is one DuckDB statement over the day's gzip JSONL files, with the contract's
column types and nothing else: no raw copy, no quarantine, no reasons, no per-hour swap.

* parse: read_json with explicit columns, counted (decompression + JSON parsing);
* raw lines → Parquet: every line as text, the least a raw layer writes;
* parse → Parquet: typed rows, invalid prices filtered, written per hour;
* parse → dedupe → Parquet: the same, one row per event_id (the "bare cleaning script").
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
from common import report  # bench/common.py

from shopper_assets.contract.events import EVENT_FIELDS
from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.sql_text import glob_literal, literal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--day", default="2026-11-20")
    parser.add_argument("--landing", type=Path, help="a data dir that already holds the day's landing files")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shopper-floor-"))
    root = args.landing or work
    try:
        if not args.landing:
            write_landing(GeneratorConfig(start=date.fromisoformat(args.day), events_per_day=args.events_per_day), root)
        files = glob_literal(root, f"landing/events/date={args.day}/*/*.jsonl.gz")
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET temp_directory = {literal(work / 'tmp')}")
        types = {f.name: "TIMESTAMPTZ" if f.name == "event_time" else f.sql_type for f in EVENT_FIELDS}
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
        typed = f"read_json({files}, format = 'newline_delimited', columns = {columns})"
        valid = (
            f"SELECT *, hour(event_time) AS h FROM {typed} WHERE event_id IS NOT NULL AND coalesce(price >= 0, true)"
        )
        # one VARCHAR column per line: a delimiter and no quoting that JSON lines never contain
        lines = f"read_csv({files}, columns = {{'line': 'VARCHAR'}}, delim = '\\x1f', quote = '', header = false)"
        parquet = "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (h), OVERWRITE)"

        n = con.execute(f"SELECT count(*) FROM {lines}").fetchone()[0]
        stages = [
            ("parse (read_json)", f"SELECT count(*) FROM {typed}"),
            ("raw lines → Parquet", f"COPY (SELECT line FROM {lines}) TO '{work / 'raw.parquet'}' (FORMAT parquet)"),
            ("parse → Parquet", f"COPY ({valid}) TO '{work / 'typed'}' {parquet}"),
            (
                "parse → dedupe → Parquet",
                f"COPY ({valid} QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_time) = 1) "
                f"TO '{work / 'deduped'}' {parquet}",
            ),
        ]
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        print(f"{n:,} landed lines; bare DuckDB {duckdb.__version__} on {threads} threads")
        for stage, sql in stages:
            t = time.perf_counter()
            con.execute(sql).fetchall()
            report(stage, time.perf_counter() - t, n)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
