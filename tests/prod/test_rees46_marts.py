"""A REES46 import builds every mart on the prod stack, and the analytics marts match the reference.

Three weeks of REES46-format rows (views, carts, purchases; products bought together; carts left
behind; users coming back) are dropped into S3, landed, cleaned into Postgres and built by
dbt-postgres. REES46 has no campaigns and no ad spend: attribution credits '(none)' and campaign
performance stays empty, but every model builds and every test passes. The reference reads the
landed lines back from S3.
"""

from __future__ import annotations

import gzip
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from shopper_assets.ingestion.rees46 import HEADER
from shopper_assets.ingestion.s3.drops import process_incoming
from shopper_assets.settings import Settings
from shopper_assets.transform import dbt_resource
from tests.prod.helpers import run_pipeline, s3_keys
from tests.transform import reference_analytics as ref
from tests.transform.helpers import assert_matches

FIRST_DAY = date(2019, 10, 1)
DAYS = 20
PRODUCTS = {  # product_id -> (category_id, category_code, brand, price)
    "1004767": ("2053013555631882655", "electronics.smartphone", "samsung", "254.82"),
    "1004768": ("2053013555631882655", "electronics.smartphone", "apple", "949.99"),
    "5809910": ("1602943681873052386", "", "grattol", "5.24"),
    "5809911": ("1602943681873052386", "", "grattol", "6.35"),
    "3900821": ("2053013552326770905", "appliances.environment.water_heater", "aqua", "33.20"),
    "4804056": ("2053013554658804075", "electronics.audio.headphone", "", "160.57"),
    "1307067": ("2053013558920217191", "computers.notebook", "lenovo", "251.74"),
    "1480613": ("2053013561092866779", "computers.desktop", "pulser", "908.62"),
}
PAIRS = [("1004767", "4804056"), ("5809910", "5809911")]  # bought together again and again


def rees46_sample(seed: int = 46) -> bytes:
    """Deterministic REES46 CSV: 30 users over 20 days, 1-4 sessions each."""
    rng = random.Random(seed)
    rows = []
    products = sorted(PRODUCTS)
    for u in range(30):
        user = str(512000000 + u)
        for s in range(rng.randint(1, 4)):
            day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
            t = datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60))
            session = f"{u:08d}-{s:04d}-4e00-8c23-a032dfed738c"
            basket = list(rng.choice(PAIRS)) if rng.random() < 0.45 else [rng.choice(products)]
            kind = rng.random()  # browse only, cart left behind, or bought
            for k, product in enumerate(basket):
                cat, code, brand, price = PRODUCTS[product]
                steps = ["view"] + (["cart"] if kind > 0.3 else []) + (["purchase"] if kind > 0.55 else [])
                for step in steps:
                    t += timedelta(seconds=30 + 7 * k)
                    fields = [f"{t:%Y-%m-%d %H:%M:%S} UTC", step, product, cat, code, brand, price, user, session]
                    rows.append(",".join(fields))
    return (HEADER + "\n" + "\n".join(rows) + "\n").encode()


@pytest.fixture
def built(s3, bucket, landing, make_store, pg_url, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The sample dropped, landed, cleaned into Postgres and built by dbt (target prod); returns the
    landing files copied back to a local folder, for the reference."""
    monkeypatch.setenv("SHOPPER_START_DATE", FIRST_DAY.isoformat())  # historical data needs it (README)
    sample = rees46_sample()
    s3.put_object(Bucket=bucket, Key="incoming/rees46/2019-Oct-sample.csv.gz", Body=gzip.compress(sample))
    report = process_incoming(s3, bucket, landing, None, 10)
    assert report.errors == [] and report.bad_rows == 0
    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day)
    _, stats = run_pipeline(make_store(), landing, start, start + timedelta(days=DAYS + 1))
    assert stats.quarantined_rows == 0 and stats.cleaned_rows == len(sample.splitlines()) - 1  # all but the header

    monkeypatch.setenv("SHOPPER_ENV", "prod")
    monkeypatch.setenv("SHOPPER_PG_URL", pg_url)
    monkeypatch.setenv("SHOPPER_DATA_DIR", str(tmp_path / "data"))
    for var in ("SHOPPER_PG_HOST", "SHOPPER_PG_PORT", "SHOPPER_PG_USER", "SHOPPER_PG_PASSWORD", "SHOPPER_PG_DBNAME"):
        monkeypatch.delenv(var, raising=False)
    invocation = dbt_resource(Settings.from_env()).cli(["build"], target_path=tmp_path / "dbt", raise_on_error=False)
    invocation.wait()
    results = invocation.get_artifact("run_results.json")["results"]
    failed = [f"{r['unique_id']}: {r['message']}" for r in results if r["status"] not in ("success", "pass")]
    assert invocation.is_successful() and not failed, "\n".join(failed)

    local = tmp_path / "landing_copy"
    for key in s3_keys(s3, bucket, "landing/events/"):
        path = local / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return local


def pg_mart(pg_url: str, name: str) -> pd.DataFrame:
    with psycopg.connect(pg_url) as conn:
        cur = conn.execute(f"SELECT * FROM marts.{name}")
        df = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    for col in df.columns:
        if df[col].map(lambda v: v.__class__.__name__ == "Decimal").any():
            df[col] = df[col].astype(float)
    return df


def test_rees46_import_builds_the_analytics_marts(built, pg_url):
    events = ref.landing_events(built)
    assert set(events.event_type) == {"product_view", "add_to_cart", "purchase"}

    ltv = pg_mart(pg_url, "customer_ltv")
    assert_matches(
        ltv,
        ref.customer_ltv(events),
        **ref.COMPARE["customer_ltv"],
    )
    assert ltv.is_repeat.any() and set(ltv.ltv_tier) == {"high", "medium", "low"}

    cohorts = pg_mart(pg_url, "cohort_retention")
    assert_matches(
        cohorts,
        ref.cohort_retention(events),
        **ref.COMPARE["cohort_retention"],
    )
    assert (cohorts.weeks_since > 0).any() and (cohorts[cohorts.weeks_since > 0].active_users > 0).any()

    brands = pg_mart(pg_url, "top_brands_daily")
    assert_matches(
        brands,
        ref.top_brands_daily(events),
        **ref.COMPARE["top_brands_daily"],
    )
    assert "(unknown)" in set(brands.brand)  # the headphone has no brand in the dataset

    abandonment = pg_mart(pg_url, "cart_abandonment_daily")
    assert_matches(
        abandonment,
        ref.cart_abandonment_daily(events),
        **ref.COMPARE["cart_abandonment_daily"],
    )
    assert abandonment.abandoned_carts.sum() > 0

    recommendations = pg_mart(pg_url, "product_recommendations")
    assert_matches(
        recommendations,
        ref.product_recommendations(events),
        **ref.COMPARE["product_recommendations"],
    )
    together = {tuple(sorted(p)) for p in recommendations[["product_id", "recommended_product_id"]].to_numpy()}
    assert together == {tuple(sorted(p)) for p in PAIRS}

    # no campaigns in REES46: every order is credited to '(none)', no campaign has a day
    attribution = pg_mart(pg_url, "order_attribution")
    assert set(attribution.campaign_id) == {"(none)"}
    assert len(attribution) == 4 * events[events.event_type == "purchase"].order_id.nunique()
    assert pg_mart(pg_url, "campaign_performance_daily").empty
