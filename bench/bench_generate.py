"""Times write_landing for N events per day into a temp dir; with ``--realism``, measures how shop-like the data is.

Prints events/s, MB written (gzip and raw JSON) and peak memory (ru_maxrss). Run e.g.
``python bench/bench_generate.py --events-per-day 1000000``.

``--realism`` instead simulates the runs the analytics marts care about (simulate_events, the same
events write_landing writes) and prints, computed with DuckDB from the events alone:
returning users' share of DAU on day 1 of a 1-day demo (200k events), orders per buyer over 14 days
(200k/day), weekly retention of the first cohort over 4 weeks (50k/day, from a Monday), the
multi-campaign touch shares of orders over 7 days (200k/day, 7-day lookback), and lines per order
and bought-together pairs of a 1-day demo (lift of the generator's companion pairs against the other pairs).
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
import time

import numpy as np
import pyarrow as pa

from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, simulate_events, write_landing

REALISM_COLUMNS = (
    "event_type",
    "event_time",
    "user_id",
    "session_id",
    "product_id",
    "order_id",
    "referrer",
    "user_type",
    "campaign_id",
)
MONDAY = datetime.date(2026, 11, 2)


def bench(args: argparse.Namespace) -> None:
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


# realism -----------------------------------------------------------------------------------------
def _events(con, start: datetime.date, days: int, events_per_day: int, seed: int) -> None:
    """Simulate a range into the DuckDB table ``e`` (the columns the measures need)."""
    t0 = time.perf_counter()
    config = GeneratorConfig(start=start, days=days, events_per_day=events_per_day, seed=seed)
    tables = [t.select(list(REALISM_COLUMNS)) for t in simulate_events(config)]
    events = pa.concat_tables(tables)  # noqa: F841 - read by DuckDB
    con.execute("CREATE OR REPLACE TABLE e AS SELECT * FROM events")
    print(f"\n{days} day(s) x {events_per_day:,} events from {start} (seed {seed}): {con.table('e').shape[0]:,} events "
          f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip


def _returning_share(con, day: datetime.date) -> None:
    dau, new = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE has_new) FROM (SELECT user_id, bool_or(user_type = 'new') AS has_new "
        "FROM e WHERE CAST(event_time AS DATE) = ? GROUP BY user_id)",
        [day],
    ).fetchone()
    print(f"day 1 DAU {dau:,}: new {new:,}, returning {dau - new:,} ({(dau - new) / dau:.1%} of DAU)")


def _orders_per_buyer(con) -> None:
    rows = con.execute(
        "SELECT least(orders, 5) AS k, count(*) FROM (SELECT user_id, count(DISTINCT order_id) AS orders FROM e "
        "WHERE event_type = 'purchase' GROUP BY user_id) GROUP BY k ORDER BY k"
    ).fetchall()
    buyers = sum(n for _, n in rows)
    parts = ", ".join(f"{'5+' if k == 5 else k}: {n:,} ({n / buyers:.1%})" for k, n in rows)
    print(f"orders per buyer ({buyers:,} buyers): {parts}")
    three_plus = sum(n for k, n in rows if k >= 3)
    print(f"  3+ orders: {three_plus / buyers:.1%} of buyers")


#: (weeks since, active users) of the first weekly cohort (users by the Monday of their first event)
RETENTION_SQL = """
WITH active AS (SELECT user_id, date_trunc('week', event_time) AS week FROM e GROUP BY ALL),
cohort AS (SELECT user_id, min(week) AS cohort_week FROM active GROUP BY user_id)
SELECT datediff('week', c.cohort_week, a.week) AS weeks_since, count(DISTINCT a.user_id)
FROM active AS a JOIN cohort AS c USING (user_id)
WHERE c.cohort_week = (SELECT min(cohort_week) FROM cohort)
GROUP BY weeks_since ORDER BY weeks_since
"""


def _retention(con) -> None:
    rows = con.execute(RETENTION_SQL).fetchall()
    size = rows[0][1]
    print(
        f"first weekly cohort ({size:,} users), retention by week: "
        + ", ".join(f"{k}: {n / size:.1%}" for k, n in rows)
    )


#: orders, orders with a campaign touch (an ad click, or a visit that came from a campaign) by the
#: same user in the 7 days up to the order, of those with >= 2 campaigns, and with first touch != last
TOUCHES_SQL = """
WITH touches AS (
    SELECT user_id, event_time AS t, campaign_id FROM e WHERE event_type = 'ad_click' AND campaign_id IS NOT NULL
    UNION ALL
    SELECT user_id, min(event_time), any_value(campaign_id) FROM e
    WHERE referrer = 'ads' AND event_type NOT IN ('ad_impression', 'ad_click') GROUP BY user_id, session_id
),
orders AS (SELECT order_id, any_value(user_id) AS user_id, min(event_time) AS t FROM e WHERE event_type = 'purchase'
           GROUP BY order_id),
per_order AS (
    SELECT o.order_id, count(DISTINCT tc.campaign_id) AS campaigns,
           arg_min(tc.campaign_id, tc.t) AS first_touch, arg_max(tc.campaign_id, tc.t) AS last_touch
    FROM orders AS o JOIN touches AS tc
      ON tc.user_id = o.user_id AND tc.t <= o.t AND tc.t >= o.t - INTERVAL 7 DAY
    GROUP BY o.order_id
)
SELECT (SELECT count(*) FROM orders), count(*), count(*) FILTER (WHERE campaigns >= 2),
       count(*) FILTER (WHERE first_touch <> last_touch)
FROM per_order
"""


def _touches(con) -> None:
    orders, touched, multi, differ = con.execute(TOUCHES_SQL).fetchone()
    print(
        f"orders {orders:,}; with a campaign touch in the 7 days before: {touched:,} ({touched / orders:.1%}); "
        f"of those >= 2 campaigns {multi / touched:.1%}, first touch != last touch {differ / touched:.1%}"
    )


def _baskets(con, seed: int) -> None:
    rows = con.execute(
        "SELECT least(n, 5) AS k, count(*) FROM (SELECT order_id, count(*) AS n FROM e WHERE event_type = 'purchase' "
        "GROUP BY order_id) GROUP BY k ORDER BY k"
    ).fetchall()
    orders = sum(n for _, n in rows)
    print(
        f"lines per order ({orders:,} orders): "
        + ", ".join(f"{'5+' if k == 5 else k}: {n / orders:.1%}" for k, n in rows)
    )
    con.execute(
        "CREATE OR REPLACE TABLE baskets AS SELECT DISTINCT order_id, product_id FROM e WHERE event_type = 'purchase'"
    )
    pairs = con.execute(
        "WITH n AS (SELECT count(DISTINCT order_id) AS n FROM baskets), "
        "p AS (SELECT product_id, count(*) AS k FROM baskets GROUP BY product_id), "
        "ab AS (SELECT a.product_id AS a, b.product_id AS b, count(*) AS k FROM baskets AS a JOIN baskets AS b "
        "       ON a.order_id = b.order_id AND a.product_id < b.product_id GROUP BY ALL) "
        "SELECT ab.a, ab.b, ab.k, ab.k * n.n / (pa.k * pb.k) AS lift FROM ab, n, p AS pa, p AS pb "
        "WHERE pa.product_id = ab.a AND pb.product_id = ab.b AND ab.k >= 3"
    ).fetchall()
    companions = _companion_pairs(seed)
    is_companion = np.array([(a, b) in companions for a, b, _, _ in pairs], dtype=bool)
    lift = np.array([x for *_, x in pairs], dtype=np.float64)
    print(f"product pairs bought together in >= 3 orders: {len(pairs):,} ({int(is_companion.sum()):,} companion pairs)")
    for name, sel in (("companion pairs", is_companion), ("other pairs", ~is_companion)):
        if sel.any():
            print(f"  median lift of {name}: {np.median(lift[sel]):,.1f} ({int(sel.sum()):,} pairs)")


def _companion_pairs(seed: int) -> set[tuple[str, str]]:
    """The generator's true companion pairs (product ids, smaller first); empty before companions existed."""
    from shopper_assets.generator.catalog import build_catalog

    catalog = build_catalog(seed)
    companions = getattr(catalog, "companions", None)
    if companions is None:
        return set()
    ids = catalog.product_ids
    out = set()
    for p, row in enumerate(companions):
        for q in row[row >= 0]:
            out.add(tuple(sorted((ids[p], ids[int(q)]))))
    return out


def realism(seed: int) -> None:
    import duckdb

    con = duckdb.connect()
    start = datetime.date(2026, 11, 20)
    _events(con, start, 1, 200_000, seed)
    _returning_share(con, start)
    _baskets(con, seed)
    _events(con, MONDAY, 14, 200_000, seed)
    _orders_per_buyer(con)
    _events(con, MONDAY, 28, 50_000, seed)
    _retention(con)
    _events(con, MONDAY, 7, 200_000, seed)
    _touches(con)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--start", default="2026-11-20")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dirty", action="store_true", help="1%% duplicates, 2%% late, 0.5%% malformed")
    parser.add_argument("--raw-size", action="store_true", help="also decompress to report raw JSON MB (slow)")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--keep", type=pathlib.Path, help="write here instead of a temp dir, and keep it")
    parser.add_argument("--realism", action="store_true", help="measure the realism figures instead of the speed")
    args = parser.parse_args(argv)
    if args.realism:
        realism(args.seed)
    else:
        bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
