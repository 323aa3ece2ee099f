"""The dashboard's pages. Each reads one snapshot (see common.page) and draws from the marts only:
tiles are mart values (or their sums over the range), charts are the mart rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from shopper_assets.serving import queries
from shopper_assets.serving.dashboard.common import View, count, empty, money, page, pct, ratio
from shopper_assets.serving.marts import ATTRIBUTION_MODELS, LTV_TIERS

FUNNEL_STEPS = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NO_CAMPAIGN = "(none)"  # order_attribution's campaign of orders no campaign touched (CONTRACT.md)


def _chart(chart: alt.Chart) -> None:
    st.altair_chart(chart, width="stretch")


DAY_AXIS = alt.X("yearmonthdate(event_date):O", title="day (UTC)", axis=alt.Axis(labelAngle=-45))


def _section(view: View, title: str, mart: str, render: Callable[[View], None]) -> None:
    """A titled section of a page, drawn from ``mart`` when the published copy has it."""
    st.subheader(title)
    if view.has(mart):
        render(view)


def _delta(now, before, fmt) -> str | None:
    """Signed change, sign first (Streamlit colours and points the arrow by a leading minus)."""
    if before is None or now is None or pd.isna(before) or pd.isna(now):
        return None
    change = now - before
    return ("-" if change < 0 else "+") + fmt(abs(change))


def overview() -> None:
    with page("Overview", "Headline KPIs of the last day in the range, and the range over time.") as view:
        last_two = pd.DataFrame(
            queries.select_mart(view.snapshot, "kpi_daily", start=view.end - timedelta(days=1), end=view.end)
        )
        today = last_two[last_two.event_date == view.end]
        if today.empty:
            empty("KPI rows", view)
            return
        now = today.iloc[0]
        before = last_two[last_two.event_date < view.end]
        prev = before.iloc[0] if not before.empty else {}
        st.subheader(f"{view.end} (UTC), change from the day before")
        tiles = (
            ("Revenue", "revenue", money),
            ("Orders", "orders", count),
            ("Average order value", "aov", money),
            ("Daily active users", "dau", count),
            ("Sessions", "sessions", count),
            ("Conversion rate", "conversion_rate", pct),
        )
        columns = [*st.columns(3), *st.columns(3)]
        for column, (label, key, fmt) in zip(columns, tiles, strict=True):
            column.metric(label, fmt(now[key]), _delta(now[key], prev.get(key) if len(prev) else None, fmt))

        _data_quality(view)

        kpis = view.rows("kpi_daily")
        left, right = st.columns(2)
        with left:
            st.markdown("**Revenue per day**")
            _chart(alt.Chart(kpis).mark_line(point=True).encode(x=DAY_AXIS, y="revenue:Q"))
        with right:
            st.markdown("**Orders per day**")
            _chart(alt.Chart(kpis).mark_bar().encode(x=DAY_AXIS, y="orders:Q"))

        hourly = view.rows("orders_per_hour")
        if not hourly.empty:
            by_hour = hourly.groupby("hour_of_day", as_index=False)[["orders", "revenue"]].sum()
            st.markdown(f"**Orders per hour of day** (UTC, {view.start} to {view.end})")
            _chart(alt.Chart(by_hour).mark_bar().encode(x="hour_of_day:O", y="orders:Q", tooltip=["revenue:Q"]))

        left, right = st.columns(2)
        with left:
            st.markdown("**Revenue per month** (all history)")
            if view.has("revenue_monthly"):
                monthly = pd.DataFrame(queries.select_mart(view.snapshot, "revenue_monthly"))
                _chart(
                    alt.Chart(monthly)
                    .mark_bar()
                    .encode(x=alt.X("yearmonth(month):O", title="month"), y="revenue:Q", tooltip=["mom_growth:Q"])
                )
        with right:
            st.markdown("**Revenue by weekday** (all history)")
            if view.has("revenue_by_weekday"):
                weekdays = pd.DataFrame(queries.select_mart(view.snapshot, "revenue_by_weekday"))
                weekdays["day"] = weekdays["weekday"].map(lambda d: WEEKDAYS[int(d) - 1])
                _chart(alt.Chart(weekdays).mark_bar().encode(x=alt.X("day:N", sort=list(WEEKDAYS)), y="revenue:Q"))


def _data_quality(view: View) -> None:
    """The data-quality score of the range's last day, and over the range (dq_score_daily, dq_losses_daily)."""
    st.subheader("Data quality")
    if not view.has("dq_score_daily"):
        return
    quality = view.rows("dq_score_daily")
    if quality.empty:
        empty("data-quality rows", view)
        return
    quality = quality.sort_values("event_date")
    last = quality.iloc[-1]
    before = quality.iloc[-2] if len(quality) > 1 else None
    lost = last["landed_lines"] - last["clean_events"]
    tiles = st.columns(4)
    tiles[0].metric(
        f"DQ score {last['event_date']}",
        pct(last["dq_score"]),
        _delta(last["dq_score"], before["dq_score"] if before is not None else None, pct),
        help="Share of the day's landed lines that became clean events.",
    )
    tiles[1].metric("Lines lost", count(lost), help="Quarantined lines and duplicates.")
    tiles[2].metric("Late events", count(last["late_events"]), help="Delivered in a later hour than they happened.")
    failed = int(last["checks_failed"])
    tiles[3].metric(
        "Lake checks failed",
        f"{failed} of {int(last['checks_passed'] + last['checks_warned'] + failed)}",
        help=last["failed_checks"] or "Every blocking check passes on the whole day.",
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**DQ score per day**")
        scores = quality.assign(dq_percent=100 * quality["dq_score"])
        _chart(
            alt.Chart(scores)
            .mark_line(point=True)
            .encode(
                x=DAY_AXIS,
                y=alt.Y(
                    "dq_percent:Q",
                    title="clean / landed (%)",
                    scale=alt.Scale(zero=False),
                    axis=alt.Axis(format=".2f"),
                ),
                tooltip=["event_date:T", "dq_percent:Q", "landed_lines:Q", "clean_events:Q"],
            )
        )
    with right:
        st.markdown("**Lines lost per reason**")
        if view.snapshot.has("dq_losses_daily"):
            losses = view.rows("dq_losses_daily")
            if losses.empty:
                st.caption("No line lost in the range.")
            else:
                bars = alt.Chart(losses).mark_bar()
                _chart(bars.encode(x=DAY_AXIS, y="lines:Q", color="reason:N", tooltip=["reason", "lines"]))


def products() -> None:
    with page("Products & categories", "Revenue by category, top products and top brands over the range.") as view:
        categories = view.rows("revenue_by_category_daily")
        if categories.empty:
            empty("category revenue", view)
            return
        totals = categories.groupby("category", as_index=False, dropna=False)[["revenue", "orders"]].sum()
        totals = totals.sort_values(["revenue", "category"], ascending=[False, True])
        totals["share"] = totals["revenue"] / totals["revenue"].sum()
        left, right = st.columns([3, 2])
        with left:
            st.markdown("**Revenue by category**")
            _chart(alt.Chart(totals).mark_bar().encode(x="revenue:Q", y=alt.Y("category:N", sort="-x")))
        with right:
            st.markdown("**Categories**")
            st.table(
                pd.DataFrame(
                    {
                        "category": totals["category"],
                        "revenue": totals["revenue"].map(money),
                        "share": totals["share"].map(pct),
                        "orders": totals["orders"].map(count),
                    }
                ),
                hide_index=True,
            )

        st.markdown("**Top products by revenue**")
        top = view.rows("top_products_daily")
        ranked = (
            top.groupby(["product_id", "category"], as_index=False, dropna=False)[["revenue", "units", "orders"]]
            .sum()
            .sort_values(["revenue", "product_id"], ascending=[False, True])
            .head(10)
        )
        st.table(
            pd.DataFrame(
                {
                    "product": ranked["product_id"],
                    "category": ranked["category"],
                    "revenue": ranked["revenue"].map(money),
                    "units": ranked["units"].map(count),
                }
            ),
            hide_index=True,
        )

        st.markdown("**Top brands by revenue**")
        if view.has("top_brands_daily"):
            brands = view.rows("top_brands_daily")
            if brands.empty:
                empty("brand revenue", view)
            else:
                by_brand = brands.groupby("brand", as_index=False, dropna=False)[["revenue", "orders"]].sum()
                by_brand = by_brand.sort_values("revenue", ascending=False).head(10)
                _chart(alt.Chart(by_brand).mark_bar().encode(x="revenue:Q", y=alt.Y("brand:N", sort="-x")))


def funnel() -> None:
    with page("Funnel & cart abandonment", "Sessions reaching each step, and carts left without a purchase.") as view:
        days = view.rows("funnel_daily")
        if days.empty:
            empty("funnel rows", view)
            return
        steps = pd.DataFrame(
            {"step": list(FUNNEL_STEPS), "sessions": [days[f"sessions_{s}"].sum() for s in FUNNEL_STEPS]}
        )
        steps["of_previous"] = steps["sessions"] / steps["sessions"].shift(1)
        for column, row in zip(st.columns(len(FUNNEL_STEPS)), steps.itertuples(), strict=True):
            step_rate = pct(row.of_previous) if row.Index else None  # share of the step before
            column.metric(f"Sessions: {row.step}", count(row.sessions), step_rate, delta_color="off", delta_arrow="off")
        step_axis = alt.X("step:N", sort=list(FUNNEL_STEPS), axis=alt.Axis(labelAngle=0))
        _chart(alt.Chart(steps).mark_bar().encode(x=step_axis, y="sessions:Q"))
        _section(view, "Cart abandonment", "cart_abandonment_daily", _cart_abandonment)


def _cart_abandonment(view: View) -> None:
    carts = view.rows("cart_abandonment_daily")
    if carts.empty:
        empty("cart abandonment rows", view)
        return
    total, abandoned = carts["carts"].sum(), carts["abandoned_carts"].sum()
    a, b, c = st.columns(3)
    a.metric("Carts", count(total))
    b.metric("Abandoned carts", count(abandoned))
    c.metric("Abandonment rate", pct(ratio(abandoned, total)))
    _chart(alt.Chart(carts).mark_line(point=True).encode(x=DAY_AXIS, y="abandonment_rate:Q"))


def customers() -> None:
    with page("Customers", "Lifetime value tiers, repeat customers and weekly cohort retention.") as view:
        _section(view, "Lifetime value", "customer_ltv", _lifetime_value)
        _section(view, "Cohort retention", "cohort_retention", _cohort_retention)


def _lifetime_value(view: View) -> None:
    tiers = pd.DataFrame(queries.ltv_tiers(view.snapshot))
    if tiers.empty:
        st.info("customer_ltv has no customers yet.")
        return
    buyers, repeat = tiers["customers"].sum(), tiers["repeat_customers"].sum()
    a, b, c = st.columns(3)
    a.metric("Customers", count(buyers))
    b.metric("Repeat rate", pct(ratio(repeat, buyers)))
    c.metric("Revenue per customer", money(ratio(tiers["revenue"].sum(), buyers)))
    left, right = st.columns(2)
    with left:
        tier_axis = alt.X("ltv_tier:N", title="LTV tier", sort=list(LTV_TIERS), axis=alt.Axis(labelAngle=0))
        _chart(alt.Chart(tiers).mark_bar().encode(x=tier_axis, y="customers:Q"))
    with right:
        table = {
            "tier": tiers["ltv_tier"],
            "customers": tiers["customers"].map(count),
            "repeat": tiers["repeat_customers"].map(count),
            "revenue": tiers["revenue"].map(money),
        }
        st.table(pd.DataFrame(table), hide_index=True)


COHORT_WEEKS = 12
COHORT_ROW_PX = 36


def _cohort_retention(view: View) -> None:
    first_week = view.end - timedelta(days=view.end.weekday(), weeks=COHORT_WEEKS - 1)
    cohorts = pd.DataFrame(queries.select_mart(view.snapshot, "cohort_retention", start=first_week, end=view.end))
    if cohorts.empty:
        empty("cohorts", view)
        return
    st.caption(
        f"Share of each week's new users active again N weeks later (the cohorts of the {COHORT_WEEKS} weeks "
        f"up to {view.end})."
    )
    cells = alt.Chart(cohorts).encode(
        x=alt.X("weeks_since:O", title="weeks since the cohort's first week", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("yearmonthdate(cohort_week):O", title="cohort week"),
        tooltip=["cohort_week:T", "weeks_since:O", "active_users:Q", "cohort_users:Q", "retention_rate:Q"],
    )
    rate = alt.Color("retention_rate:Q", title="retention", scale=alt.Scale(scheme="blues", domain=[0, 1]))
    labels = cells.mark_text(baseline="middle").encode(
        text=alt.Text("retention_rate:Q", format=".1%"),
        color=alt.condition("datum.retention_rate > 0.5", alt.value("white"), alt.value("black")),
    )
    # a fixed height per cohort row: in the default height a few cohorts are squeezed into slivers
    _chart((cells.mark_rect().encode(color=rate) + labels).properties(height=alt.Step(COHORT_ROW_PX)))


def marketing() -> None:
    with page("Marketing", "Campaign performance over the range, and attribution models side by side.") as view:
        _section(view, "Campaign performance", "campaign_performance_daily", _campaigns)
        _section(view, "Attribution models side by side", "order_attribution", _attribution)


def _campaigns(view: View) -> None:
    days = view.rows("campaign_performance_daily")
    if days.empty:
        empty("campaign rows", view)
        return
    sums = ["impressions", "clicks", "spend", "attributed_orders", "attributed_revenue"]
    perf = days.groupby("campaign_id", as_index=False)[sums].sum()
    perf = perf.sort_values(["attributed_revenue", "campaign_id"], ascending=[False, True])
    spend, revenue = perf["spend"].sum(), perf["attributed_revenue"].sum()
    a, b, c = st.columns(3)
    a.metric("Ad spend", money(spend))
    b.metric("Attributed revenue (last touch)", money(revenue))
    c.metric("ROAS", _times(ratio(revenue, spend)))
    # one chart each: revenue is often a hundred times the spend, which would vanish on a shared axis
    by_revenue = alt.Y("campaign_id:N", title="campaign", sort=list(perf["campaign_id"]))
    for column, (measure, title) in zip(
        st.columns(2), (("spend", "Ad spend"), ("attributed_revenue", "Attributed revenue (last touch)")), strict=True
    ):
        with column:
            st.markdown(f"**{title}** per campaign")
            _chart(alt.Chart(perf).mark_bar().encode(x=alt.X(f"{measure}:Q", title=f"{title} ($)"), y=by_revenue))

    def pairs(a: str, b: str):
        return zip(perf[a], perf[b], strict=True)

    table = {
        "campaign": perf["campaign_id"],
        "impressions": perf["impressions"].map(count),
        "clicks": perf["clicks"].map(count),
        "CTR": [pct(ratio(c, i)) for c, i in pairs("clicks", "impressions")],
        "spend": perf["spend"].map(money),
        "CPC": [money(ratio(s, c)) for s, c in pairs("spend", "clicks")],
        "orders": perf["attributed_orders"].map(count),
        "revenue": perf["attributed_revenue"].map(money),
        "ROAS": [_times(ratio(r, s)) for r, s in pairs("attributed_revenue", "spend")],
    }
    st.table(pd.DataFrame(table), hide_index=True)


def _times(value) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _attribution(view: View) -> None:
    summary = pd.DataFrame(queries.attribution_summary(view.snapshot))
    if summary.empty:
        st.info("order_attribution has no orders yet.")
        return
    models = [m for m in ATTRIBUTION_MODELS if m in set(summary["model"])]
    untouched = summary[summary["campaign_id"] == NO_CAMPAIGN].head(1)  # the same orders under every model
    st.caption(
        "Revenue credited to each campaign by each model (all orders in order_attribution)."
        + (
            f" Orders without a campaign touch in the lookback ({count(untouched['orders'].iloc[0])} orders, "
            f"{money(untouched['attributed_revenue'].iloc[0])}) are credited to {NO_CAMPAIGN}: in the table, "
            "not in the chart."
            if not untouched.empty
            else ""
        )
    )
    campaigns = summary[summary["campaign_id"] != NO_CAMPAIGN]
    if not campaigns.empty:
        _chart(
            alt.Chart(campaigns)
            .mark_bar()
            .encode(
                x=alt.X("attributed_revenue:Q", title="attributed revenue ($)"),
                y=alt.Y("campaign_id:N", title="campaign"),
                color=alt.Color("model:N", sort=models),
                yOffset=alt.YOffset("model:N", sort=models),
            )
        )
    pivot = summary.pivot_table(index="campaign_id", columns="model", values="attributed_revenue", aggfunc="sum")
    pivot = pivot.reindex(columns=models).fillna(0).map(money).reset_index()
    st.table(pivot.rename(columns={"campaign_id": "campaign"}), hide_index=True)
