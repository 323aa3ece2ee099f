"""The analytics marts equal an independent pandas computation from the landing files.

Two weeks of generated events with the dirty-data knobs on (duplicates, late arrivals, malformed
lines) and their ad-spend CSVs go through the real lake (landing -> raw -> cleaned/quarantined,
ad_spend) and a full dbt build; the reference (``reference_analytics``) parses the same landed lines
and CSVs itself.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, write_landing
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.lake.ad_spend_assets import load_ad_spend
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.transform import reference_analytics as ref
from tests.transform.conftest import run_dbt
from tests.transform.helpers import assert_matches

#: A Friday: the two weeks span three ISO weeks (cohorts) and two months (growth).
START = dt.date(2026, 2, 20)
DAYS = 14
DIRTY = DirtyDataConfig(
    duplicate_rate=0.02, late_rate=0.02, late_max_hours=3, malformed_rate=0.01, ad_spend_bad_rate=0.3
)


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Path:
    """A data root whose warehouse was built from dirty landing files by the lake and dbt."""
    data = tmp_path_factory.mktemp("analytics") / "data"
    summary = write_landing(
        GeneratorConfig(start=START, days=DAYS, events_per_day=8_000, seed=23, dirty=DIRTY), data, progress=False
    )
    assert summary.duplicates and summary.late and sum(summary.malformed.values())
    assert summary.ad_spend_rows and sum(summary.ad_spend_bad.values())
    start = dt.datetime(START.year, START.month, START.day)
    end = start + dt.timedelta(days=DAYS)
    db = data / "shopper.duckdb"
    store = LocalLakeStore(data_dir=str(data), duckdb_path=str(db))
    landing = LocalLandingZone(data_dir=str(data))
    with store.session() as s:
        ingest_raw(s, landing, start, end, 6)
        clean_window(s, start, end)
        spend = load_ad_spend(s, landing, start, end)
    # every bad ad-spend row the generator wrote was quarantined for its reason, and only those
    quarantined = Counter()
    for day in spend:
        quarantined.update(day.quarantined_by_reason)
    assert quarantined == Counter({k: n for k, n in summary.ad_spend_bad.items() if n})
    store.publish_to_warehouse()
    run_dbt(db, ["build"])
    return data


@pytest.fixture(scope="module")
def events(landed) -> pd.DataFrame:
    return ref.landing_events(landed)


@pytest.fixture(scope="module")
def mart(landed):
    con = duckdb.connect(str(landed / "shopper.duckdb"), read_only=True)

    def read(name: str) -> pd.DataFrame:
        df = con.execute(f"SELECT * FROM marts.{name}").df()
        for col in ("event_date", "order_date", "first_order_date", "last_order_date", "cohort_week", "month"):
            if col in df:
                df[col] = pd.to_datetime(df[col]).dt.date
        return df

    yield read
    con.close()


def test_the_reference_reads_the_same_events_as_the_lake(landed, events):
    with duckdb.connect(str(landed / "shopper.duckdb"), read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT event_id FROM lake.cleaned_events").fetchall()}
    assert ids == set(events.event_id)


def test_customer_ltv(mart, events):
    actual, expected = mart("customer_ltv"), ref.customer_ltv(events)
    assert_matches(
        actual,
        expected,
        **ref.COMPARE["customer_ltv"],
    )
    assert set(actual.ltv_tier) == {"high", "medium", "low"}
    assert actual.is_repeat.any() and not actual.is_repeat.all()


def test_cohort_retention(mart, events):
    actual, expected = mart("cohort_retention"), ref.cohort_retention(events)
    assert_matches(
        actual,
        expected,
        **ref.COMPARE["cohort_retention"],
    )
    assert actual.cohort_week.nunique() == 3 and actual.weeks_since.max() == 2


def test_revenue_monthly(mart, events):
    actual, expected = mart("revenue_monthly"), ref.revenue_monthly(events)
    assert_matches(
        actual,
        expected,
        **ref.COMPARE["revenue_monthly"],
    )
    assert len(actual) == 2


def test_revenue_by_weekday(mart, events):
    assert_matches(
        mart("revenue_by_weekday"),
        ref.revenue_by_weekday(events),
        **ref.COMPARE["revenue_by_weekday"],
    )


def test_top_brands_daily(mart, events):
    actual = mart("top_brands_daily")
    assert_matches(
        actual,
        ref.top_brands_daily(events),
        **ref.COMPARE["top_brands_daily"],
    )
    assert (actual.brand == "(unknown)").any()


def test_cart_abandonment_daily(mart, events):
    assert_matches(
        mart("cart_abandonment_daily"),
        ref.cart_abandonment_daily(events),
        **ref.COMPARE["cart_abandonment_daily"],
    )


def test_order_attribution(mart, events):
    actual = mart("order_attribution")
    assert_matches(
        actual,
        ref.order_attribution(events),
        **ref.COMPARE["order_attribution"],
    )
    # the models disagree on some orders, as they do in reality
    first = actual[actual.model == "first_touch"].set_index("order_id").campaign_id
    last = actual[actual.model == "last_touch"].set_index("order_id").campaign_id
    assert (first != last.reindex(first.index)).any()
    assert (actual.campaign_id == "(none)").any() and (actual.campaign_id != "(none)").any()


def test_campaign_performance_daily(mart, events, landed):
    actual = mart("campaign_performance_daily")
    expected = ref.campaign_performance_daily(events, ref.ad_spend(landed))
    assert_matches(
        actual,
        expected,
        **ref.COMPARE["campaign_performance_daily"],
    )
    assert (actual.spend > 0).any() and (actual.attributed_orders > 0).any() and (actual.roas > 0).any()
    # campaigns pay for the clicks that bring visitors; the listings' click-through rate leaves them out
    assert (actual.arrival_clicks > 0).any() and (actual.ctr.dropna() <= 1).all()


def test_product_recommendations(mart, events):
    actual = mart("product_recommendations")
    assert_matches(
        actual,
        ref.product_recommendations(events),
        **ref.COMPARE["product_recommendations"],
    )
    assert len(actual) >= 20 and actual.lift.median() > 5  # the generator's companion products stand out


def test_kpi_summary_analytics_section(landed, events):
    """`shopper kpis` shows the LTV tiers, the repeat rate, the best campaign and the top pair."""
    from shopper_assets.transform import format_kpi_summary, kpi_summary

    last_day = START + dt.timedelta(days=DAYS - 1)
    with duckdb.connect(str(landed / "shopper.duckdb"), read_only=True) as con:
        summary = kpi_summary(con, last_day)
    a = summary["analytics"]
    ltv = ref.customer_ltv(events)
    assert {t["ltv_tier"]: t["customers"] for t in a["ltv_tiers"]} == ltv.ltv_tier.value_counts().to_dict()
    assert a["repeat_rate"] == pytest.approx(ltv.is_repeat.mean(), rel=1e-12)
    pairs = ref.product_recommendations(events)
    pairs = pairs[pairs.product_id < pairs.recommended_product_id]
    top = pairs.sort_values(["orders_together", "lift"], ascending=False).iloc[0]
    assert (a["top_pair"]["product_id"], a["top_pair"]["recommended_product_id"]) == (
        top.product_id,
        top.recommended_product_id,
    )
    text = format_kpi_summary(summary)
    assert "LTV tier" in text and "repeat customers" in text and "Most bought together" in text
    assert "Best campaign by ROAS" in text
