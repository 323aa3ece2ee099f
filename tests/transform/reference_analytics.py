"""An independent pandas computation of the analytics marts, from the landing files themselves.

Nothing here reads the project's tables or calls its cleaning code: the landed JSON lines are parsed
with ``json``, kept when they follow the event contract of CONTRACT.md (the rules are written out
here), deduplicated on event_id (first delivery wins), and every mart is computed from them as its
yml definition says. Money is summed in integer cents, so sums are exact.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

EVENT_TYPES = {"page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout", "purchase"}
AD_EVENTS = {"ad_impression", "ad_click"}
PRODUCT_EVENTS = {"product_view", "add_to_cart", "remove_from_cart", "purchase"}
LINE_EVENTS = {"add_to_cart", "remove_from_cart", "purchase"}
ORDER_EVENTS = {"checkout", "purchase"}
ACCEPTED = {
    "page": {"home", "search", "category", "product", "cart", "checkout", "confirmation"},
    "device_type": {"mobile", "desktop", "tablet"},
    "referrer": {"direct", "search", "social", "email", "ads", "affiliate"},
    "user_type": {"new", "returning"},
}
ALWAYS = (
    "event_id", "event_type", "event_time", "user_id", "session_id", "page", "device_type", "referrer", "user_type",
)  # fmt: skip
NUMBERS = ("price", "discount_amount")
STRINGS = (
    "event_id", "event_type", "event_time", "user_id", "session_id", "page", "product_id", "category", "brand",
    "order_id", "discount_code", "currency", "device_type", "browser", "country", "referrer", "user_type",
    "campaign_id", "ad_id",
)  # fmt: skip
LOOKBACK_DAYS = 7
LATE_HOURS = 6
LTV_HIGH, LTV_MEDIUM = 0.9, 0.6
TOP_N, MIN_ORDERS = 10, 3
#: How each mart is compared with its reference (see tests/transform/helpers.assert_matches): the
#: key columns, the exact ones, money (mart column -> reference cents) and ratios.
COMPARE: dict[str, dict] = {
    "customer_ltv": {
        "keys": ["user_id"],
        "exact": ["orders", "is_repeat", "first_order_date", "last_order_date", "ltv_tier"],
        "money": {"revenue": "revenue_cents"},
        "ratios": ["revenue_percentile"],
    },
    "cohort_retention": {
        "keys": ["cohort_week", "weeks_since"],
        "exact": ["cohort_users", "active_users"],
        "money": {},
        "ratios": ["retention_rate"],
    },
    "revenue_monthly": {
        "keys": ["month"],
        "exact": ["orders", "days_with_events"],
        "money": {"revenue": "revenue_cents"},
        "ratios": ["mom_growth"],
    },
    "revenue_by_weekday": {
        "keys": ["weekday"],
        "exact": ["orders", "days_with_events"],
        "money": {"revenue": "revenue_cents"},
        "ratios": ["avg_daily_revenue"],
    },
    "top_brands_daily": {
        "keys": ["event_date", "brand"],
        "exact": ["orders", "units", "rank"],
        "money": {"revenue": "revenue_cents"},
        "ratios": [],
    },
    "cart_abandonment_daily": {
        "keys": ["event_date"],
        "exact": ["sessions", "carts", "abandoned_carts", "abandoned_at_checkout"],
        "money": {},
        "ratios": ["abandonment_rate"],
    },
    "order_attribution": {
        "keys": ["order_id", "model", "campaign_id"],
        "exact": ["order_date"],
        "money": {},
        "ratios": ["credit", "attributed_revenue"],
    },
    "campaign_performance_daily": {
        "keys": ["event_date", "campaign_id"],
        "exact": ["impressions", "clicks", "arrival_clicks", "attributed_orders"],
        "money": {"spend": "spend_cents", "attributed_revenue": "attributed_cents"},
        "ratios": ["ctr", "roas", "cpa"],
    },
    "product_recommendations": {
        "keys": ["product_id", "recommended_product_id"],
        "exact": ["rank", "orders_together"],
        "money": {},
        "ratios": ["support", "confidence", "lift"],
    },
}

_FOLDER = re.compile(r"date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/")


def _required(event_type: str) -> list[str]:
    fields = list(ALWAYS)
    if event_type in PRODUCT_EVENTS:
        fields += ["product_id", "category", "price"]
    if event_type in LINE_EVENTS:
        fields.append("quantity")
    if event_type in ORDER_EVENTS:
        fields.append("order_id")
    if event_type in AD_EVENTS:
        fields += ["campaign_id", "ad_id"]
    return fields


def _valid(e: object, landed_hour: datetime) -> bool:
    if not isinstance(e, dict) or e.get("event_type") not in EVENT_TYPES | AD_EVENTS:
        return False
    if any(e.get(f) is None for f in _required(e["event_type"])):
        return False
    if any(f in e and e[f] is not None and not isinstance(e[f], str) for f in STRINGS):
        return False
    for f in NUMBERS:
        if e.get(f) is not None and (isinstance(e[f], bool) or not isinstance(e[f], int | float)):
            return False
    q = e.get("quantity")
    if q is not None and (isinstance(q, bool) or not isinstance(q, int) or q < 1):
        return False
    if e.get("price") is not None and (e["price"] < 0 or abs(e["price"] * 100 - round(e["price"] * 100)) > 1e-6):
        return False
    if any(e.get(f) is not None and e[f] not in values for f, values in ACCEPTED.items()):
        return False
    if e.get("schema_version", 1) != 1:
        return False
    try:
        t = datetime.fromisoformat(e["event_time"].replace("Z", "+00:00"))
    except ValueError:
        return False
    if t.tzinfo is None:
        return False
    event_hour = datetime(*t.utctimetuple()[:4])
    # delivered before it happened (future_timestamp), or later than the 6-hour late-arrival window
    return landed_hour - timedelta(hours=LATE_HOURS) <= event_hour <= landed_hour


def landing_events(data_dir: Path) -> pd.DataFrame:
    """The valid landed events, first delivery of each event_id, as one DataFrame."""
    rows, seen = [], set()
    files = sorted((data_dir / "landing" / "events").rglob("*.jsonl.gz"))
    for path in files:  # landing hour, then file name: the order deliveries are ranked in
        m = _FOLDER.search(path.as_posix())
        landed = datetime.fromisoformat(f"{m[1]}T{m[2]}:00")
        for raw in gzip.decompress(path.read_bytes()).split(b"\n"):
            try:
                e = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue
            if _valid(e, landed) and e["event_id"] not in seen:
                seen.add(e["event_id"])
                rows.append(e)
    df = pd.DataFrame(rows)
    df["event_time"] = pd.to_datetime(df.event_time, utc=True, format="ISO8601").dt.tz_convert(None)
    df["event_date"] = df.event_time.dt.date
    df["price_cents"] = (df.price.fillna(0) * 100).round().astype("int64")
    df["quantity"] = df.quantity.fillna(0).astype("int64")
    return df


def ad_spend(data_dir: Path) -> pd.DataFrame:
    """The valid landed ad-spend rows (CONTRACT.md "Ad spend"): per (date, campaign, ad), the row of
    the file sorting last (then its last line) wins; rows of another day than their folder, with
    bad numbers, dates or currency codes, or missing fields are dropped."""
    rows = []
    for path in sorted((data_dir / "landing" / "ad_spend").rglob("*.csv*")):
        folder = re.search(r"date=(\d{4}-\d{2}-\d{2})", path.as_posix())[1]
        data = path.read_bytes()
        text = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8-sig", errors="strict")
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        for line_no, fields in enumerate(reader, start=2):
            if header is None or len(fields) != len(header):
                continue
            r = dict(zip(header, fields, strict=True))
            try:
                day = date.fromisoformat(r["date"])
                impressions, clicks = int(r["impressions"]), int(r["clicks"])
                spend_cents = _cents(r["spend"])
            except (KeyError, ValueError):
                continue
            if not r["campaign_id"] or not r["ad_id"] or day.isoformat() != folder or min(impressions, clicks) < 0:
                continue
            if spend_cents is None or spend_cents < 0 or not re.fullmatch(r"([A-Za-z]{3})?", r["currency"].strip()):
                continue
            rows.append((path.name, line_no, day, r["campaign_id"], r["ad_id"], impressions, clicks, spend_cents))
    df = pd.DataFrame(
        rows, columns=["file", "line", "spend_date", "campaign_id", "ad_id", "impressions", "clicks", "spend_cents"]
    )
    return df.sort_values(["file", "line"]).drop_duplicates(["spend_date", "campaign_id", "ad_id"], keep="last")


def _cents(text: str) -> int | None:
    if not re.fullmatch(r"-?\d+(\.\d{1,6})?", text.strip()):
        return None
    value = float(text) * 100
    return round(value) if abs(value - round(value)) < 1e-6 else None


# -- marts ------------------------------------------------------------------------------------------


def purchases(df: pd.DataFrame) -> pd.DataFrame:
    p = df[df.event_type == "purchase"].copy()
    p["gross_cents"] = p.price_cents * p.quantity
    return p


def orders(df: pd.DataFrame) -> pd.DataFrame:
    """One row per order: its first line's user, time and day; revenue in cents; items."""
    p = purchases(df).sort_values(["event_time", "event_id"])
    g = p.groupby("order_id")
    return pd.DataFrame(
        {
            "user_id": g.user_id.first(),
            "order_time": g.event_time.first(),
            "revenue_cents": g.gross_cents.sum(),
            "items": g.quantity.sum(),
        }
    ).assign(order_date=lambda o: o.order_time.dt.date)


def customer_ltv(df: pd.DataFrame) -> pd.DataFrame:
    o = orders(df)
    g = o.groupby("user_id")
    out = pd.DataFrame(
        {
            "first_order_date": g.order_date.min(),
            "last_order_date": g.order_date.max(),
            "orders": g.size(),
            "revenue_cents": g.revenue_cents.sum(),
        }
    ).reset_index()
    out["is_repeat"] = out.orders >= 2
    n = len(out)
    rank = out.revenue_cents.rank(method="min")
    out["revenue_percentile"] = (rank - 1) / (n - 1) if n > 1 else 0.0
    out["ltv_tier"] = np.select(
        [out.revenue_percentile >= LTV_HIGH, out.revenue_percentile >= LTV_MEDIUM], ["high", "medium"], "low"
    )
    return out


def _monday(d: pd.Series) -> pd.Series:
    d = pd.to_datetime(d)
    return (d - pd.to_timedelta(d.dt.day_of_week, unit="D")).dt.date


def cohort_retention(df: pd.DataFrame) -> pd.DataFrame:
    first = df.groupby("user_id").event_time.min().dt.date
    cohort = _monday(first).rename("cohort_week")
    activity = pd.DataFrame({"user_id": df.user_id, "week": _monday(df.event_date)}).drop_duplicates()
    activity = activity.join(cohort, on="user_id")
    activity["weeks_since"] = (pd.to_datetime(activity.week) - pd.to_datetime(activity.cohort_week)).dt.days // 7
    active = activity.groupby(["cohort_week", "weeks_since"]).size().rename("active_users")
    sizes = cohort.value_counts().rename("cohort_users")
    last = max(activity.week)
    grid = [(c, w) for c in sizes.index for w in range((last - c).days // 7 + 1)]
    out = pd.DataFrame(grid, columns=["cohort_week", "weeks_since"])
    out = out.join(sizes, on="cohort_week").join(active, on=["cohort_week", "weeks_since"]).fillna({"active_users": 0})
    out["retention_rate"] = out.active_users / out.cohort_users
    return out


def revenue_monthly(df: pd.DataFrame) -> pd.DataFrame:
    p = purchases(df).assign(month=lambda x: pd.to_datetime(x.event_date).dt.to_period("M"))
    days = pd.Series(pd.to_datetime(sorted(df.event_date.unique()))).dt.to_period("M").value_counts()
    g = p.groupby("month")
    out = pd.DataFrame({"revenue_cents": g.gross_cents.sum(), "orders": g.order_id.nunique()})
    months = pd.period_range(days.index.min(), days.index.max(), freq="M")
    out = out.reindex(months, fill_value=0)
    out["days_with_events"] = days.reindex(months, fill_value=0)
    prev = out.revenue_cents.shift(1)
    out["mom_growth"] = np.where(prev > 0, (out.revenue_cents - prev) / prev.where(prev > 0), np.nan)
    out.index = out.index.to_timestamp().date
    return out.rename_axis("month").reset_index()


def revenue_by_weekday(df: pd.DataFrame) -> pd.DataFrame:
    p = purchases(df).assign(weekday=lambda x: pd.to_datetime(x.event_date).dt.day_of_week + 1)
    g = p.groupby("weekday")
    days = pd.Series(pd.to_datetime(sorted(df.event_date.unique()))).dt.day_of_week.add(1).value_counts()
    out = pd.DataFrame({"revenue_cents": g.gross_cents.sum(), "orders": g.order_id.nunique()})
    out = out.reindex(range(1, 8), fill_value=0)
    out["days_with_events"] = days.reindex(range(1, 8), fill_value=0)
    out["avg_daily_revenue"] = out.revenue_cents / 100 / out.days_with_events.where(out.days_with_events > 0)
    return out.rename_axis("weekday").reset_index()


def top_brands_daily(df: pd.DataFrame) -> pd.DataFrame:
    p = purchases(df).assign(brand=lambda x: x.brand.fillna("(unknown)"))
    g = p.groupby(["event_date", "brand"])
    out = pd.DataFrame(
        {"revenue_cents": g.gross_cents.sum(), "orders": g.order_id.nunique(), "units": g.quantity.sum()}
    ).reset_index()
    ranked = out.sort_values(["event_date", "revenue_cents", "brand"], ascending=[True, False, True])
    out["rank"] = ranked.groupby("event_date").cumcount().reindex(out.index) + 1
    return out


def cart_abandonment_daily(df: pd.DataFrame) -> pd.DataFrame:
    flags = df.assign(
        cart=df.event_type == "add_to_cart", checkout=df.event_type == "checkout", purchase=df.event_type == "purchase"
    )
    s = flags.groupby("session_id").agg(
        start=("event_time", "min"), cart=("cart", "any"), checkout=("checkout", "any"), purchase=("purchase", "any")
    )
    s["event_date"] = s.start.dt.date
    s["abandoned"] = s.cart & ~s.purchase
    s["abandoned_at_checkout"] = s.abandoned & s.checkout
    g = s.groupby("event_date")
    out = pd.DataFrame(
        {
            "sessions": g.size(),
            "carts": g.cart.sum(),
            "abandoned_carts": g.abandoned.sum(),
            "abandoned_at_checkout": g.abandoned_at_checkout.sum(),
        }
    ).reset_index()
    out["abandonment_rate"] = out.abandoned_carts / out.carts.where(out.carts > 0)
    return out


def touches(df: pd.DataFrame) -> pd.DataFrame:
    """One touch per (user, session, campaign): the earliest of the session's arrival from the
    campaign (the first event of a day slice whose non-ad events carry it) and its ad clicks."""
    slices = df.groupby(["session_id", "event_date"])
    non_ad = df[~df.event_type.isin(AD_EVENTS) & df.campaign_id.notna()]
    arrival = non_ad.groupby(["session_id", "event_date"]).campaign_id.min().rename("campaign_id")
    visits = pd.DataFrame({"touch_time": slices.event_time.min(), "user_id": slices.user_id.min()}).join(
        arrival, how="inner"
    )
    clicks = df[(df.event_type == "ad_click") & df.campaign_id.notna()][
        ["session_id", "user_id", "campaign_id", "event_time"]
    ].rename(columns={"event_time": "touch_time"})
    both = pd.concat([visits.reset_index()[["session_id", "user_id", "campaign_id", "touch_time"]], clicks])
    return both.groupby(["user_id", "session_id", "campaign_id"], as_index=False).touch_time.min()


def order_attribution(df: pd.DataFrame) -> pd.DataFrame:
    o = orders(df).reset_index()
    t = touches(df)
    m = o.merge(t, on="user_id")
    m = m[(m.touch_time <= m.order_time) & (m.touch_time >= m.order_time - timedelta(days=LOOKBACK_DAYS))]
    m = m.sort_values(["order_id", "touch_time", "session_id", "campaign_id"])
    m["position"] = m.groupby("order_id").cumcount() + 1
    m["touches"] = m.groupby("order_id").order_id.transform("size")
    n, pos = m.touches, m.position
    credits = {
        "first_touch": (pos == 1).astype(float),
        "last_touch": (pos == n).astype(float),
        "linear": 1.0 / n,
        "position_based": np.select(
            [n == 1, n == 2, (pos == 1) | (pos == n)], [1.0, 0.5, 0.4], 0.2 / (n - 2).where(n > 2, 1)
        ),
    }
    parts = [m.assign(model=k, credit=v) for k, v in credits.items()]
    out = pd.concat(parts)
    out = out[out.credit > 0].groupby(["order_id", "model", "campaign_id"], as_index=False).credit.sum()
    none = o[~o.order_id.isin(m.order_id)]
    untouched = [
        pd.DataFrame({"order_id": none.order_id, "model": k, "campaign_id": "(none)", "credit": 1.0}) for k in credits
    ]
    out = pd.concat([out, *untouched])
    out = out.merge(o[["order_id", "order_date", "revenue_cents"]], on="order_id")
    out["attributed_revenue"] = out.credit * out.revenue_cents / 100
    return out


def arrival_clicks(df: pd.DataFrame) -> pd.Series:
    """Whether each event is an arrival click: an ad_click that is the first event of its session's
    day slice and carries the campaign the slice's non-ad events carry."""
    non_ad = df[~df.event_type.isin(AD_EVENTS) & df.campaign_id.notna()]
    arrival = non_ad.groupby(["session_id", "event_date"]).campaign_id.min().rename("arrival_campaign")
    first = df.groupby(["session_id", "event_date"]).event_time.min().rename("first_time")
    slices = df[["session_id", "event_date"]].join(arrival, on=["session_id", "event_date"])
    slices = slices.join(first, on=["session_id", "event_date"])
    return (
        (df.event_type == "ad_click")
        & (df.campaign_id == slices.arrival_campaign)
        & (df.event_time == slices.first_time)
    )


def campaign_performance_daily(df: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    ads = df.assign(
        impressions=lambda x: x.event_type == "ad_impression",
        clicks=lambda x: x.event_type == "ad_click",
        arrival_clicks=arrival_clicks(df),
    )[lambda x: x.campaign_id.notna()]
    activity = ads.groupby(["event_date", "campaign_id"])[["impressions", "clicks", "arrival_clicks"]].sum()
    cost = (
        spend.rename(columns={"spend_date": "event_date"})
        .groupby(["event_date", "campaign_id"])
        .agg(spend_cents=("spend_cents", "sum"), reported_clicks=("clicks", "sum"))
    )
    last = order_attribution(df)
    last = last[(last.model == "last_touch") & (last.campaign_id != "(none)")]
    attributed = (
        last.rename(columns={"order_date": "event_date"})
        .groupby(["event_date", "campaign_id"])
        .agg(attributed_orders=("order_id", "size"), attributed_cents=("revenue_cents", "sum"))
    )
    out = activity.join(cost, how="outer").join(attributed, how="outer").reset_index()
    zero = ("impressions", "clicks", "arrival_clicks", "spend_cents", "attributed_orders", "attributed_cents")
    out = out.fillna(dict.fromkeys(zero, 0))
    out["ctr"] = (out.clicks - out.arrival_clicks) / out.impressions.where(out.impressions > 0)
    out["roas"] = out.attributed_cents / out.spend_cents.where(out.spend_cents > 0)
    out["cpa"] = out.spend_cents / 100 / out.attributed_orders.where(out.attributed_orders > 0)
    return out


def product_recommendations(df: pd.DataFrame) -> pd.DataFrame:
    op = purchases(df)[["order_id", "product_id"]].drop_duplicates()
    total = op.order_id.nunique()
    per_product = op.groupby("product_id").size()
    pairs = op.merge(op, on="order_id", suffixes=("", "_b"))
    pairs = pairs[pairs.product_id != pairs.product_id_b]
    counts = pairs.groupby(["product_id", "product_id_b"]).size().rename("orders_together").reset_index()
    counts = counts[counts.orders_together >= MIN_ORDERS].rename(columns={"product_id_b": "recommended_product_id"})
    pa_, pb = per_product.reindex(counts.product_id).to_numpy(), per_product.reindex(counts.recommended_product_id)
    counts["support"] = counts.orders_together / total
    counts["confidence"] = counts.orders_together / pa_
    counts["lift"] = counts.orders_together * total / (pa_ * pb.to_numpy())
    counts = counts.sort_values(
        ["product_id", "lift", "orders_together", "recommended_product_id"], ascending=[True, False, False, True]
    )
    counts["rank"] = counts.groupby("product_id").cumcount() + 1
    return counts[counts["rank"] <= TOP_N]
