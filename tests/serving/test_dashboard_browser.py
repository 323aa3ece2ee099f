"""The dashboard in a real browser: ``shopper dashboard`` on the demo deployment, each page opened in
headless Chromium; its charts must have drawn their marks, and every number it shows must equal
the marts (read here straight from the warehouse with SQL, not through the dashboard's code)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

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


def sql(dep: Deployment, query: str) -> list[tuple]:
    with duckdb.connect(str(dep.warehouse), read_only=True) as con:
        return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in con.execute(query).fetchall()]


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

    def __init__(self, chromium, url: str, name: str, charts: int):
        self.page = chromium.new_page(viewport={"width": 1400, "height": 2400})  # Streamlit scrolls inside
        self.page.goto(url)
        self.page.wait_for_selector('[data-testid="stMain"] h1', timeout=90_000)
        self.page.wait_for_function(
            f"() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] svg.marks').length >= {charts}",
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
def dashboard(analytics: Deployment, tmp_path_factory):
    with dashboard_server(analytics.root, tmp_path_factory.mktemp("dashboard-logs")) as server:
        yield server.url
        assert "Traceback" not in server.output()


def test_overview(chromium, dashboard, analytics: Deployment):
    page = Page(chromium, dashboard + "/", "overview", charts=6)
    (d0, *_), (d1, *_) = sorted(sql(analytics, "SELECT event_date FROM marts.kpi_daily"))
    row = {
        day: dict(zip(("revenue", "orders", "aov", "dau", "sessions", "conversion_rate"), values, strict=True))
        for day, *values in sql(
            analytics, "SELECT event_date, revenue, orders, aov, dau, sessions, conversion_rate FROM marts.kpi_daily"
        )
    }
    now, before = row[d1], row[d0]
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
        for day, *values in sql(
            analytics,
            "SELECT event_date, dq_score, landed_lines - clean_events, late_events, checks_passed, checks_warned, "
            "checks_failed FROM marts.dq_score_daily",
        )
    }
    q_now, q_before = quality[d1], quality[d0]
    assert page.metrics[f"DQ score {d1}"] == [
        pct(q_now["dq_score"]),
        signed(pct, q_now["dq_score"] - q_before["dq_score"]),
    ]
    assert page.metrics["Lines lost"] == [count(q_now["lost"]), None]
    assert page.metrics["Late events"] == [count(q_now["late_events"]), None]
    checked = q_now["passed"] + q_now["warned"] + q_now["failed"]
    assert page.metrics["Lake checks failed"] == [f"{q_now['failed']:.0f} of {checked:.0f}", None]
    dq_line, revenue_line, orders_bars, hourly_bars, monthly_bars, weekday_bars = page.marks
    assert dq_line == 1 + 2  # the DQ score per day: a line and its two points (the demo loses no line: no bars)
    assert revenue_line == 1 + 2 and orders_bars == 2  # a line and its two points; a bar per day
    assert hourly_bars == 24 and monthly_bars == 2 and weekday_bars == 7
    assert page.alerts == []  # every mart of the page is built


def test_products_and_categories(chromium, dashboard, analytics: Deployment):
    page = Page(chromium, dashboard + "/products", "products", charts=2)
    categories, products = page.tables
    totals = sql(
        analytics,
        "SELECT category, sum(revenue), sum(orders) FROM marts.revenue_by_category_daily GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    revenue = sum(r for _, r, _ in totals)
    assert categories == [["category", "revenue", "share", "orders"]] + [
        [c, money(r), pct(r / revenue), count(o)] for c, r, o in totals
    ]
    top = sql(
        analytics,
        """SELECT product_id, category, sum(revenue), sum(units) FROM marts.top_products_daily
           GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10""",
    )
    header, *rows = products
    assert header == ["product", "category", "revenue", "units"]
    assert rows == [[p, c, money(r), count(u)] for p, c, r, u in top]
    category_bars, brand_bars = page.marks
    assert category_bars == len(totals) and brand_bars == 2  # two brands in the range


def test_funnel_and_cart_abandonment(chromium, dashboard, analytics: Deployment):
    page = Page(chromium, dashboard + "/funnel", "funnel", charts=2)
    steps = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")
    (sums,) = sql(analytics, "SELECT " + ", ".join(f"sum(sessions_{s})" for s in steps) + " FROM marts.funnel_daily")
    for i, step in enumerate(steps):
        rate = pct(sums[i] / sums[i - 1]) if i else None
        assert page.metrics[f"Sessions: {step}"] == [count(sums[i]), rate], step
    ((carts, abandoned),) = sql(analytics, "SELECT sum(carts), sum(abandoned_carts) FROM marts.cart_abandonment_daily")
    assert page.metrics["Carts"][0] == count(carts) and page.metrics["Abandoned carts"][0] == count(abandoned)
    assert page.metrics["Abandonment rate"][0] == pct(abandoned / carts)
    funnel_bars, abandonment_line = page.marks
    assert funnel_bars == 5 and abandonment_line == 1 + 2


def test_customers(chromium, dashboard, analytics: Deployment):
    page = Page(chromium, dashboard + "/customers", "customers", charts=2)
    ((customers, repeat, revenue),) = sql(
        analytics, "SELECT count(*), count(*) FILTER (WHERE is_repeat), sum(revenue) FROM marts.customer_ltv"
    )
    assert page.metrics["Customers"][0] == count(customers)
    assert page.metrics["Repeat rate"][0] == pct(repeat / customers)
    assert page.metrics["Revenue per customer"][0] == money(revenue / customers)
    tiers = sql(
        analytics,
        """SELECT ltv_tier, count(*), count(*) FILTER (WHERE is_repeat), sum(revenue) FROM marts.customer_ltv
           GROUP BY 1 ORDER BY 4 DESC""",
    )
    assert page.tables[0][1:] == [[t, count(n), count(r), money(v)] for t, n, r, v in tiers]
    tier_bars, heatmap_cells = page.marks
    last_day = analytics.days[-1]
    monday = last_day - timedelta(days=last_day.weekday(), weeks=11)  # the 12 cohort weeks up to the range's end
    (cells,) = sql(
        analytics,
        f"""SELECT count(*) FROM marts.cohort_retention
            WHERE cohort_week BETWEEN DATE '{monday}' AND DATE '{analytics.days[-1]}'""",
    )
    assert tier_bars == len(tiers) and heatmap_cells == cells[0] > 0


def test_marketing(chromium, dashboard, analytics: Deployment):
    page = Page(chromium, dashboard + "/marketing", "marketing", charts=2)
    totals = "SELECT sum(spend), sum(attributed_revenue) FROM marts.campaign_performance_daily"
    ((spend, revenue),) = sql(analytics, totals)
    assert page.metrics["Ad spend"][0] == money(spend)
    assert page.metrics["Attributed revenue (last touch)"][0] == money(revenue)
    assert page.metrics["ROAS"][0] == f"{revenue / spend:.2f}x"
    campaigns, attribution = page.tables
    per_campaign = sql(
        analytics,
        """SELECT campaign_id, sum(spend), sum(attributed_revenue) FROM marts.campaign_performance_daily
           GROUP BY 1 ORDER BY 3 DESC, 1""",
    )
    assert [(r[0], r[4], r[7]) for r in campaigns[1:]] == [(c, money(s), money(v)) for c, s, v in per_campaign]
    credited: dict = defaultdict(float)
    for _, model, campaign, _, amount in analytics.analytics["order_attribution"]:
        credited[campaign, model] += float(amount)
    models = ["first_touch", "last_touch", "linear", "position_based"]
    assert attribution[0] == ["campaign", *models]
    assert attribution[1:] == [[c, *(money(credited[c, m]) for m in models)] for c in sorted({c for c, _ in credited})]
    spend_bars, attribution_bars = page.marks
    assert spend_bars == 2 * len(per_campaign) and attribution_bars == len(credited)


def test_pages_say_what_is_not_built_yet(chromium, demo: Deployment, tmp_path: Path):
    """On the demo as it is today (analytics marts not built), the pages still render and say what to run."""
    with dashboard_server(demo.root, tmp_path) as server:
        customers = Page(chromium, server.url + "/customers", "not-built-customers", charts=0)
        marketing = Page(chromium, server.url + "/marketing", "not-built-marketing", charts=0)
        overview = Page(chromium, server.url + "/", "not-built-overview", charts=3)
    for page, marts in (
        (customers, ("customer_ltv", "cohort_retention")),
        (marketing, ("campaign_performance_daily", "order_attribution")),
        (overview, ("revenue_monthly", "revenue_by_weekday")),
    ):
        assert len(page.alerts) == len(marts)
        for alert, mart in zip(page.alerts, marts, strict=True):
            assert f"{mart} is not built yet (run" in alert
    assert overview.metrics["Revenue"][0].startswith("$")  # the KPI marts are there


def test_nothing_published_says_what_to_run(chromium, tmp_path: Path):
    with dashboard_server(tmp_path / "empty", tmp_path) as server:
        page = chromium.new_page()
        page.goto(server.url)
        page.wait_for_selector('[data-testid="stAlert"]', timeout=90_000)
        assert "No marts are published yet: run shopper demo first" in page.inner_text('[data-testid="stAlert"]')
        screenshot(page, "dashboard-nothing-published")
        page.close()
