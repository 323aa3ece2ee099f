"""Times write_landing for N events per day into a temp dir.

Prints events/s, MB written (gzip and raw JSON) and peak memory (ru_maxrss). Run e.g.
``python bench/bench_generate.py --events-per-day 1000000``.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import os
import pathlib
import resource
import shutil
import sys
import tempfile

from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, write_landing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--start", default="2026-11-20")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dirty", action="store_true", help="1%% duplicates, 2%% late, 0.5%% malformed")
    parser.add_argument("--raw-size", action="store_true", help="also decompress to report raw JSON MB (slow)")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--keep", type=pathlib.Path, help="write here instead of a temp dir, and keep it")
    args = parser.parse_args(argv)
    dirty = DirtyDataConfig(0.01, 0.02, 3, 0.005) if args.dirty else DirtyDataConfig()
    config = GeneratorConfig(
        start=datetime.date.fromisoformat(args.start),
        days=args.days,
        events_per_day=args.events_per_day,
        seed=args.seed,
        dirty=dirty,
    )
    out = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="bench-generate-"))
    try:
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        summary = write_landing(config, out, progress=args.progress)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        size = sum(f.stat().st_size for f in summary.files)
        print(f"events/day     {args.events_per_day:,} x {args.days} day(s), dirty={args.dirty}")
        print(f"events         {summary.events:,} ({summary.lines:,} lines, {len(summary.files)} files)")
        print(f"seconds        {summary.seconds:.2f}")
        print(f"events/s       {summary.events / summary.seconds:,.0f}")
        print(f"CPU seconds    {cpu:.2f} (all threads; {summary.events / cpu:,.0f} events per CPU-second)")
        print(f"load average   {os.getloadavg()[0]:.2f} (other work on the machine slows the wall clock)")
        print(f"MB written     {size / 1e6:,.1f} (gzip)")
        if args.raw_size:
            raw = 0
            for f in summary.files:
                with gzip.open(f, "rb") as fh:
                    while chunk := fh.read(1 << 24):
                        raw += len(chunk)
            print(f"MB raw JSON    {raw / 1e6:,.1f}")
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS MB    {peak_kb / 1024:,.0f}")
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
