"""Times write_landing for N events per day into a temp dir; with ``--realism``, measures how shop-like the data is.

Prints events/s, MB written (gzip and raw JSON) and peak memory (ru_maxrss). Run e.g.
``python bench/bench_generate.py --events-per-day 1000000``.

``--realism`` instead simulates the runs the analytics marts care about (simulate_events, the same
events write_landing writes) and prints, computed with DuckDB from the events alone:
returning users' share of DAU on day 1 of a 1-day demo (200k events), orders per buyer over 14 days
(200k/day), weekly retention of the first cohort over 4 weeks (50k/day, from a Monday), the
multi-campaign touch shares of orders over 7 days (200k/day, 7-day lookback), lines per order
and bought-together pairs of a 1-day demo (lift of the generator's companion pairs against the other pairs),
and per campaign over the 7 days the economics campaign_performance_daily reports: spend from the ad-spend
CSVs, clicks from the ad_click events, cpc, orders credited by last touch and their revenue, roas; and on
which days which campaign's spend hit its daily budget. The 7-day run is written with write_landing and
read back (events and CSVs) with DuckDB.
"""

from __future__ import annotations

import argparse
import collections
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
    "ad_id",
    "price",
    "quantity",
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


#: per campaign (tables ``e``: events, ``s``: ad-spend rows): impressions and clicks of the ad events,
#: campaign visits (sessions whose non-ad events carry the campaign), spend, and the orders the marts'
#: last-touch model credits to it (order_attribution): a touch is a (session, campaign) pair of the
#: ordering user - the session arrived from the campaign or clicked one of its ads - at its earliest
#: event, within 7 days before the order's first line; the latest touch (ties: session_id, campaign_id)
#: gets the order and its revenue (price x quantity).
CAMPAIGN_SQL = """
WITH sessions AS (
    SELECT user_id, session_id, min(event_time) AS t,
           min(campaign_id) FILTER (WHERE event_type NOT IN ('ad_impression', 'ad_click')) AS campaign_id
    FROM e GROUP BY user_id, session_id
),
touches AS (
    SELECT user_id, session_id, campaign_id, min(t) AS t FROM (
        SELECT user_id, session_id, campaign_id, t FROM sessions WHERE campaign_id IS NOT NULL
        UNION ALL
        SELECT user_id, session_id, campaign_id, event_time FROM e WHERE event_type = 'ad_click'
    ) GROUP BY ALL
),
orders AS (
    SELECT order_id, any_value(user_id) AS user_id, min(event_time) AS t, sum(price * quantity) AS revenue
    FROM e WHERE event_type = 'purchase' GROUP BY order_id
),
ranked AS (
    SELECT o.order_id, o.revenue, tc.campaign_id,
           row_number() OVER (PARTITION BY o.order_id ORDER BY tc.t DESC, tc.session_id DESC, tc.campaign_id DESC) AS k
    FROM orders AS o JOIN touches AS tc ON tc.user_id = o.user_id AND tc.t <= o.t AND tc.t >= o.t - INTERVAL 7 DAY
),
credited AS (SELECT campaign_id, count(*) AS orders, sum(revenue) AS revenue FROM ranked WHERE k = 1 GROUP BY ALL),
ads AS (
    SELECT campaign_id, count(*) FILTER (WHERE event_type = 'ad_impression') AS impressions,
           count(*) FILTER (WHERE event_type = 'ad_click') AS clicks
    FROM e WHERE event_type IN ('ad_impression', 'ad_click') GROUP BY ALL
),
visits AS (SELECT campaign_id, count(*) AS visits FROM sessions WHERE campaign_id IS NOT NULL GROUP BY ALL),
spend AS (SELECT campaign_id, sum(spend) AS spend FROM s GROUP BY ALL)
SELECT campaign_id, coalesce(a.impressions, 0) AS impressions, coalesce(a.clicks, 0) AS clicks,
       coalesce(v.visits, 0) AS visits, coalesce(p.spend, 0) AS spend, p.spend / nullif(a.clicks, 0) AS cpc,
       coalesce(c.orders, 0) AS orders, coalesce(c.revenue, 0) AS revenue, p.spend / nullif(c.orders, 0) AS cpa,
       c.revenue / nullif(p.spend, 0) AS roas
FROM ads AS a FULL JOIN visits AS v USING (campaign_id) FULL JOIN spend AS p USING (campaign_id)
FULL JOIN credited AS c USING (campaign_id)
ORDER BY campaign_id
"""


def load_landing(con, root: pathlib.Path) -> None:
    """Read what write_landing wrote under ``root``: the events (REALISM_COLUMNS) into ``e``, the ad
    spend into ``s``."""
    types = {"price": "DOUBLE", "quantity": "INTEGER"}
    columns = ", ".join(f"{c}: '{types.get(c, 'VARCHAR')}'" for c in REALISM_COLUMNS)
    con.execute(
        "CREATE OR REPLACE TABLE e AS SELECT * REPLACE (CAST(event_time AS TIMESTAMPTZ) AS event_time) "
        f"FROM read_json('{root}/landing/events/*/*/*.jsonl.gz', format = 'newline_delimited', columns = {{{columns}}})"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE s AS SELECT * FROM read_csv('{root}/landing/ad_spend/*/*.csv', header = true, "
        "types = {'spend': 'DECIMAL(18,2)', 'date': 'DATE'})"
    )


def _landed(con, out: pathlib.Path, start: datetime.date, days: int, events_per_day: int, seed: int) -> None:
    """write_landing a range into ``out`` and load it (load_landing)."""
    t0 = time.perf_counter()
    config = GeneratorConfig(start=start, days=days, events_per_day=events_per_day, seed=seed)
    write_landing(config, out, progress=False)
    load_landing(con, out)
    print(f"\n{days} day(s) x {events_per_day:,} events from {start} (seed {seed}), written and read back: "
          f"{con.table('e').shape[0]:,} events, {con.table('s').shape[0]:,} ad-spend rows "
          f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip


def _campaigns(con, seed: int, events_per_day: int) -> None:
    from shopper_assets.generator.catalog import build_campaigns, build_catalog

    campaigns = build_campaigns(seed, build_catalog(seed), events_per_day)
    cpc, cpm = campaigns.cpc_cents / 100, campaigns.cpm_cents / 100
    ids = campaigns.campaign_ids
    model = {cid: f"CPC ${cpc[i]:.2f}" if cpc[i] else f"CPM ${cpm[i]:.2f}" for i, cid in enumerate(ids)}
    budget = dict(zip(campaigns.campaign_ids, (campaigns.budget_cents / 100).tolist(), strict=True))
    rows = con.execute(CAMPAIGN_SQL).fetchall()
    print("campaign  price       impressions  clicks  visits     spend    cpc  orders    revenue    cpa    roas")
    for cid, imps, clicks, visits, spend, cpc, orders, revenue, cpa, roas in rows:
        print(f"{cid:9} {model.get(cid, '?'):11} {imps:11,} {clicks:7,} {visits:7,} {float(spend):9,.0f} "
              f"{float(cpc or 0):6.2f} {orders:7,} {float(revenue):10,.0f} {float(cpa or 0):6.2f} "
              f"{float(roas or 0):6.1f}x")  # fmt: skip
    days = con.execute("SELECT date, campaign_id, sum(spend) FROM s GROUP BY ALL ORDER BY ALL").fetchall()
    capped = collections.defaultdict(list)
    for day, cid, spend in days:
        if float(spend) >= budget[cid]:
            capped[cid].append(f"{day:%a}")
    n_days = len({d for d, _, _ in days})
    print("daily budget reached: " + "; ".join(
        f"{cid} (${budget[cid]:,.0f}) {len(capped[cid])}/{n_days}{' ' + ' '.join(capped[cid]) if capped[cid] else ''}"
        for cid in campaigns.campaign_ids
    ))  # fmt: skip


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
    with tempfile.TemporaryDirectory(prefix="bench-realism-") as out:
        _landed(con, pathlib.Path(out), MONDAY, 7, 200_000, seed)
    _touches(con)
    _campaigns(con, seed, 200_000)


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
