"""A reader process for the tests: reads a day's figures from the published marts over and over and
writes each observation as a JSON line, until it is terminated.

``follow``: a new snapshot per observation (what the API and the dashboard do), so it moves to each
newly published version. ``held``: an ad-hoc reader that opened ``serving/current.duckdb`` read-only
once and keeps that connection open all along (``duckdb -readonly``, a notebook).

An observation holds several marts read in one snapshot, so a mixture of two builds would show.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

import duckdb

FIGURES = """
    SELECT
        (SELECT orders FROM marts.kpi_daily WHERE event_date = $day),
        (SELECT CAST(revenue AS VARCHAR) FROM marts.kpi_daily WHERE event_date = $day),
        (SELECT sum(orders) FROM marts.orders_per_hour WHERE event_date = $day),
        (SELECT CAST(sum(revenue) AS VARCHAR) FROM marts.revenue_by_category_daily WHERE event_date = $day),
        (SELECT sessions_purchase FROM marts.funnel_daily WHERE event_date = $day)
"""


def figures(execute, day: str) -> list:
    return [int(v) if isinstance(v, int) else v for v in execute(FIGURES.replace("$day", f"DATE '{day}'"))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["follow", "held"])
    parser.add_argument("--serving", required=True, type=Path)
    parser.add_argument("--day", required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))

    from shopper_assets.serving.local import LocalServing
    from shopper_assets.serving.reader import LocalReader

    reader = LocalReader(LocalServing(args.serving))
    held = duckdb.connect(str(args.serving / "current.duckdb"), read_only=True) if args.mode == "held" else None
    with open(args.out, "w", buffering=1) as out:
        while not stop:
            record = {"t": time.time()}
            try:
                if held is not None:
                    record["version"] = held.execute("SELECT version FROM serving.version").fetchone()[0]
                    record["figures"] = figures(lambda sql: held.execute(sql).fetchone(), args.day)
                else:
                    with reader.snapshot() as snapshot:
                        record["version"] = snapshot.version
                        record["figures"] = figures(lambda sql, s=snapshot: s.execute(sql).fetchone(), args.day)
            except Exception as exc:  # recorded: the test fails on any
                record["error"] = f"{type(exc).__name__}: {exc}"
            out.write(json.dumps(record, default=str) + "\n")
            time.sleep(0.05)
    reader.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
