"""The dashboard in a real browser: ``shopper dashboard`` on the demo deployment, each page opened in
headless Chromium; its charts must have drawn their marks, and every number it shows must equal
the marts (read here straight from the warehouse with SQL, not through the dashboard's code)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shopper_assets.serving.marts import ATTRIBUTION_MODELS
from tests.serving.browser import screenshot
from tests.serving.conftest import Deployment
from tests.serving.servers import dashboard_server

pytestmark = pytest.mark.slow


def money(v) -> str:
    return f"${float(v):,.2f}"


def count(v) -> str:
    return f"{float(v):,.0f}"


def pct(v) -> str:
    return f"{100 * float(v):.2f}%"


def signed(fmt, change) -> str:
    return ("-" if change < 0 else "+") + fmt(abs(change))


READ_METRICS = """() => Object.fromEntries([...document.querySelectorAll('[data-testid="stMetric"]')].map(m => [
    m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(),
    [m.querySelector('[data-testid="stMetricValue"]').innerText.trim(),
     m.querySelector('[data-testid="stMetricDelta"]')?.innerText.trim() ?? null]]))"""
READ_TABLES = """() => [...document.querySelectorAll('[data-testid="stTable"] table')].map(t =>
    [...t.querySelectorAll('tr')].map(r => [...r.querySelectorAll('th, td')].map(c => c.innerText.trim())))"""
# data marks per chart: Vega draws one path per bar, cell or point (axes and legends are other roles)
READ_MARKS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].map(c =>
    c.querySelectorAll('svg.marks g.role-mark > path').length)"""
READ_ALERTS = """() => [...document.querySelectorAll('[data-testid="stAlert"]')].map(a => a.innerText.trim())"""


class Page:
    """A dashboard page once its script has run and its charts have drawn."""

    def __init__(self, chromium, url: str, name: str, charts: int, tables: int = 0):
        self.page = chromium.new_page(viewport={"width": 1400, "height": 2400})  # Streamlit scrolls inside
        self.page.goto(url)
        self.page.wait_for_selector('[data-testid="stMain"] h1', timeout=90_000)
        self.page.wait_for_function(
            f"() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] svg.marks').length >= {charts}",
            timeout=90_000,
        )
        # tables are lazy components, drawn after the charts: no placeholder (skeleton) may be left
        self.page.wait_for_function(
            f"() => document.querySelectorAll('[data-testid=\"stTable\"] table').length >= {tables} "
            "&& !document.querySelector('[data-testid=\"stSkeleton\"]')",
            timeout=90_000,
        )
        self.page.wait_for_timeout(500)  # the last deltas of the script's run
        self.shot = screenshot(self.page, f"dashboard-{name}")
        self.metrics = self.page.evaluate(READ_METRICS)
        self.tables = self.page.evaluate(READ_TABLES)
        self.marks = self.page.evaluate(READ_MARKS)
        self.alerts = self.page.evaluate(READ_ALERTS)
        assert not self.page.locator('[data-testid="stException"]').count(), self.page.inner_text("body")
        self.page.close()


@pytest.fixture(scope="module")
def dashboard(demo: Deployment, tmp_path_factory):
    with dashboard_server(demo.root, tmp_path_factory.mktemp("dashboard-logs")) as server:
        yield server.url
        assert "Traceback" not in server.output()


def test_overview(chromium, dashboard, demo: Deployment):
    page = Page(chromium, dashboard + "/", "overview", charts=6)
    kpis = demo.sql("SELECT event_date, revenue, orders, aov, dau, sessions, conversion_rate FROM marts.kpi_daily")
    row = {
        day: dict(zip(("revenue", "orders", "aov", "dau", "sessions", "conversion_rate"), values, strict=True))
        for day, *values in kpis
    }
    before, now = (row[day] for day in sorted(row)[-2:])  # the range ends on the last day
    for label, key, fmt in (
        ("Revenue", "revenue", money),
        ("Orders", "orders", count),
        ("Average order value", "aov", money),
        ("Daily active users", "dau", count),
        ("Sessions", "sessions", count),
        ("Conversion rate", "conversion_rate", pct),
    ):
        assert page.metrics[label] == [fmt(now[key]), signed(fmt, now[key] - before[key])], label
    quality = {
        day: dict(zip(("dq_score", "lost", "late_events", "passed", "warned", "failed"), values, strict=True))
        for day, *values in demo.sql(
            "SELECT event_date, dq_score, landed_lines - clean_events, late_events, checks_passed, checks_warned, "
            "checks_failed FROM marts.dq_score_daily"
        )
    }
    last_day = max(quality)
    q_before, q_now = (quality[day] for day in sorted(quality)[-2:])
    assert page.metrics[f"DQ score {last_day}"] == [
        pct(q_now["dq_score"]),
        signed(pct, q_now["dq_score"] - q_before["dq_score"]),
    ]
    assert page.metrics["Lines lost"] == [count(q_now["lost"]), None]
    assert page.metrics["Late events"] == [count(q_now["late_events"]), None]
    checked = q_now["passed"] + q_now["warned"] + q_now["failed"]
    assert page.metrics["Lake checks failed"] == [f"{q_now['failed']:.0f} of {checked:.0f}", None]
    ((losses,),) = demo.sql("SELECT count(*) FROM marts.dq_losses_daily")
    assert losses == 0  # the demo loses no line: the losses chart is a caption, not bars
    dq_line, revenue_line, orders_bars, hourly_bars, monthly_bars, weekday_bars = page.marks
    days = len(demo.days)  # all within the default range (the last 14 days)
    assert len(quality) == days and dq_line == 1 + days  # the DQ score per day: a line and a point per day
    assert revenue_line == 1 + days and orders_bars == days  # a line and a point per day; a bar per day
    ((months,),) = demo.sql("SELECT count(*) FROM marts.revenue_monthly")
    assert hourly_bars == 24 and monthly_bars == months == 2 and weekday_bars == 7
    assert page.alerts == []  # every mart of the page is built


def test_products_and_categories(chromium, dashboard, demo: Deployment):
    page = Page(chromium, dashboard + "/products", "products", charts=2, tables=2)
    categories, products = page.tables
    totals = demo.sql(
        "SELECT category, sum(revenue), sum(orders) FROM marts.revenue_by_category_daily GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    revenue = sum(r for _, r, _ in totals)
    assert categories == [["category", "revenue", "share", "orders"]] + [
        [c, money(r), pct(r / revenue), count(o)] for c, r, o in totals
    ]
    top = demo.sql(
        """SELECT product_id, category, sum(revenue), sum(units) FROM marts.top_products_daily
           GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10""",
    )
    header, *rows = products
    assert header == ["product", "category", "revenue", "units"]
    assert rows == [[p, c, money(r), count(u)] for p, c, r, u in top]
    ((brands,),) = demo.sql("SELECT count(DISTINCT brand) FROM marts.top_brands_daily")
    category_bars, brand_bars = page.marks
    assert category_bars == len(totals) and brand_bars == min(brands, 10)  # the ten best brands


def test_funnel_and_cart_abandonment(chromium, dashboard, demo: Deployment):
    page = Page(chromium, dashboard + "/funnel", "funnel", charts=2)
    steps = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")
    (sums,) = demo.sql("SELECT " + ", ".join(f"sum(sessions_{s})" for s in steps) + " FROM marts.funnel_daily")
    for i, step in enumerate(steps):
        rate = pct(sums[i] / sums[i - 1]) if i else None
        assert page.metrics[f"Sessions: {step}"] == [count(sums[i]), rate], step
    ((carts, abandoned),) = demo.sql("SELECT sum(carts), sum(abandoned_carts) FROM marts.cart_abandonment_daily")
    assert page.metrics["Carts"][0] == count(carts) and page.metrics["Abandoned carts"][0] == count(abandoned)
    assert page.metrics["Abandonment rate"][0] == pct(abandoned / carts)
    funnel_bars, abandonment_line = page.marks
    assert funnel_bars == 5 and abandonment_line == 1 + len(demo.days)


def test_customers(chromium, dashboard, demo: Deployment):
    page = Page(chromium, dashboard + "/customers", "customers", charts=2, tables=1)
    ((customers, repeat, revenue),) = demo.sql(
        "SELECT count(*), count(*) FILTER (WHERE is_repeat), sum(revenue) FROM marts.customer_ltv"
    )
    assert page.metrics["Customers"][0] == count(customers)
    assert page.metrics["Repeat rate"][0] == pct(repeat / customers)
    assert page.metrics["Revenue per customer"][0] == money(revenue / customers)
    tiers = demo.sql(
        """SELECT ltv_tier, count(*), count(*) FILTER (WHERE is_repeat), sum(revenue) FROM marts.customer_ltv
           GROUP BY 1 ORDER BY 4 DESC""",
    )
    assert page.tables[0][1:] == [[t, count(n), count(r), money(v)] for t, n, r, v in tiers]
    tier_bars, heatmap_cells = page.marks
    last_day = demo.days[-1]
    monday = last_day - timedelta(days=last_day.weekday(), weeks=11)  # the 12 cohort weeks up to the range's end
    ((cells, weeks),) = demo.sql(
        f"""SELECT count(*), count(DISTINCT cohort_week) FROM marts.cohort_retention
            WHERE cohort_week BETWEEN DATE '{monday}' AND DATE '{last_day}'""",
    )
    assert tier_bars == len(tiers) == 3 and heatmap_cells == cells and weeks == 3


def test_marketing(chromium, dashboard, demo: Deployment):
    page = Page(chromium, dashboard + "/marketing", "marketing", charts=3, tables=2)
    totals = "SELECT sum(spend), sum(attributed_revenue) FROM marts.campaign_performance_daily"
    ((spend, revenue),) = demo.sql(totals)
    assert page.metrics["Ad spend"][0] == money(spend)
    assert page.metrics["Attributed revenue (last touch)"][0] == money(revenue)
    assert page.metrics["ROAS"][0] == f"{revenue / spend:.2f}x"
    campaigns, attribution = page.tables
    per_campaign = demo.sql(
        """SELECT campaign_id, sum(spend), sum(attributed_revenue) FROM marts.campaign_performance_daily
           GROUP BY 1 ORDER BY 3 DESC, 1""",
    )
    assert [(r[0], r[4], r[7]) for r in campaigns[1:]] == [(c, money(s), money(v)) for c, s, v in per_campaign]
    credits = "SELECT campaign_id, model, sum(attributed_revenue) FROM marts.order_attribution GROUP BY 1, 2"
    credited = {(campaign, model): amount for campaign, model, amount in demo.sql(credits)}
    assert attribution[0] == ["campaign", *ATTRIBUTION_MODELS]
    assert attribution[1:] == [
        [c, *(money(credited.get((c, m), 0)) for m in ATTRIBUTION_MODELS)] for c in sorted({c for c, _ in credited})
    ]
    spend_bars, revenue_bars, attribution_bars = page.marks
    assert spend_bars == revenue_bars == len(per_campaign)
    # the chart shows campaigns only: (none), orders no campaign touched, would dwarf them (it is in the table)
    assert attribution_bars == len([c for c, _ in credited if c != "(none)"]) > 0


def test_pages_say_what_is_not_built_yet(chromium, partial: Deployment, tmp_path: Path):
    """On a deployment without the whole-history and marketing marts, the pages still render and say
    what to run."""
    with dashboard_server(partial.root, tmp_path) as server:
        customers = Page(chromium, server.url + "/customers", "not-built-customers", charts=0)
        marketing = Page(chromium, server.url + "/marketing", "not-built-marketing", charts=0)
        overview = Page(chromium, server.url + "/", "not-built-overview", charts=4)
    for page, marts in (
        (customers, ("customer_ltv", "cohort_retention")),
        (marketing, ("campaign_performance_daily", "order_attribution")),
        (overview, ("revenue_monthly", "revenue_by_weekday")),
    ):
        assert set(marts) <= set(partial.not_built)
        assert len(page.alerts) == len(marts)
        for alert, mart in zip(page.alerts, marts, strict=True):
            assert f"{mart} is not built yet (run" in alert
    assert overview.metrics["Revenue"][0].startswith("$")  # the KPI and data-quality marts are there
    assert any(label.startswith("DQ score ") for label in overview.metrics)
    assert len(overview.marks) == 4 and all(overview.marks)  # DQ score, revenue, orders, orders per hour


def test_nothing_published_says_what_to_run(chromium, tmp_path: Path):
    with dashboard_server(tmp_path / "empty", tmp_path) as server:
        page = chromium.new_page()
        page.goto(server.url)
        page.wait_for_selector('[data-testid="stAlert"]', timeout=90_000)
        assert "No marts are published yet: run shopper demo first" in page.inner_text('[data-testid="stAlert"]')
        screenshot(page, "dashboard-nothing-published")
        page.close()
