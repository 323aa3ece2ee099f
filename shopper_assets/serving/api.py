"""The query API (``shopper serve``): JSON over the published marts, OpenAPI docs at ``/docs``.

Each response reads one snapshot (one published version, see reader.py) and says which in the
``X-Published-Version`` header. List endpoints return rows of their mart as a JSON array, filtered
by an inclusive date range and the mart's keys, ``limit`` rows from ``offset``; when more rows
follow, a ``Link: <...>; rel="next"`` header gives the next page. Bad parameters are a 422 with a
message naming the parameter, unknown products and customers a 404, a mart that is not built yet
a 503 that says what to run; errors never carry a stack trace. Locally it reads the serving copy,
in prod Postgres as the read-only role: the same code and SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from shopper_assets.serving import queries
from shopper_assets.serving.marts import NOTHING_PUBLISHED, SERVED
from shopper_assets.serving.reader import Reader, ReadError, Snapshot, open_reader

log = logging.getLogger(__name__)

MAX_LIMIT = 10_000
Start = Annotated[date | None, Query(description="First day, YYYY-MM-DD (inclusive).")]
End = Annotated[date | None, Query(description="Last day, YYYY-MM-DD (inclusive).")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip (pagination).")]
AttributionModel = Literal["first_touch", "last_touch", "linear", "position_based"]
Tier = Literal["high", "medium", "low"]


# -- response types: the contract's columns, typed; any further column of a mart passes through --
class Row(BaseModel):
    model_config = ConfigDict(extra="allow")


class KpiDay(Row):
    event_date: date
    dau: int
    sessions: int
    orders: int
    revenue: float
    aov: float | None = None
    conversion_rate: float | None = None
    new_users: int | None = None
    returning_users: int | None = None
    items: int | None = None
    net_revenue: float | None = None
    bounce_rate: float | None = None
    avg_session_duration_seconds: float | None = None


class CategoryDay(Row):
    event_date: date
    category: str | None
    orders: int
    items: int | None = None
    revenue: float
    revenue_share: float | None = None


class ProductDay(Row):
    event_date: date
    product_id: str
    category: str | None = None
    orders: int
    units: int
    revenue: float
    revenue_rank: int


class OrdersHour(Row):
    event_hour: datetime
    event_date: date
    hour_of_day: int
    orders: int
    revenue: float


class FunnelDay(Row):
    event_date: date
    sessions: int
    sessions_page_view: int
    sessions_product_view: int
    sessions_add_to_cart: int
    sessions_checkout: int
    sessions_purchase: int


class CustomerLtv(Row):
    user_id: str
    first_order_date: date
    last_order_date: date
    orders: int
    revenue: float
    is_repeat: bool
    ltv_tier: str


class CohortWeek(Row):
    cohort_week: date
    weeks_since: int
    cohort_users: int
    active_users: int
    retention_rate: float


class RevenueMonth(Row):
    month: date
    revenue: float
    orders: int
    mom_growth: float | None = None


class RevenueWeekday(Row):
    weekday: int
    revenue: float
    orders: int


class BrandDay(Row):
    event_date: date
    brand: str | None
    revenue: float
    orders: int
    rank: int


class CartAbandonmentDay(Row):
    event_date: date
    carts: int
    abandoned_carts: int
    abandonment_rate: float | None = None


class CampaignDay(Row):
    event_date: date
    campaign_id: str
    impressions: int
    clicks: int
    ctr: float | None = None
    spend: float | None = None
    cpc: float | None = None
    attributed_orders: float | None = None
    attributed_revenue: float | None = None
    cpa: float | None = None
    roas: float | None = None


class OrderAttribution(Row):
    order_id: str
    model: str
    campaign_id: str
    credit: float
    attributed_revenue: float


class AttributionTotal(Row):
    model: str
    campaign_id: str
    orders: int
    credit: float
    attributed_revenue: float


class Recommendation(Row):
    product_id: str
    recommended_product_id: str
    rank: int
    orders_together: int
    support: float
    confidence: float
    lift: float


class QualityDay(Row):
    event_date: date
    landed_lines: int
    clean_events: int
    quarantined_lines: int
    duplicate_lines: int
    late_events: int
    dq_score: float | None = None
    quarantined_share: float | None = None
    duplicate_share: float | None = None
    late_share: float | None = None
    checks_passed: int
    checks_warned: int | None = None
    checks_failed: int
    failed_checks: str | None = None
    computed_at: datetime | None = None


class QualityLoss(Row):
    event_date: date
    reason: str
    lines: int
    share_of_landed: float | None = None


class Health(BaseModel):
    status: Literal["ok", "no_data"]
    backend: str
    version: str | None
    published_at: datetime | None
    age_seconds: float | None
    marts: list[str]
    not_built: list[str]
    message: str | None = None


# -- plumbing ------------------------------------------------------------------------------------
def _problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, **extra})


def _validation_message(errors: list[dict]) -> str:
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body"))
        got = f" (got {e['input']!r})" if "input" in e and e["input"] is not None else ""
        parts.append(f"{where}: {e.get('msg', 'invalid value')}{got}")
    return "; ".join(parts) or "invalid request"


class Window:
    """An inclusive date range (either end optional)."""

    def __init__(self, start: Start = None, end: End = None):
        if start and end and start > end:
            raise HTTPException(422, f"start ({start}) is after end ({end})")
        self.start, self.end = start, end


def read(request: Request, response: Response, fn: Callable[[Snapshot], Any]) -> Any:
    """Run ``fn`` on one snapshot of the app's reader; name its version in the response."""
    with request.app.state.reader.snapshot() as snapshot:
        if snapshot.version is None and not snapshot.marts:
            raise HTTPException(503, NOTHING_PUBLISHED)
        if snapshot.version:
            response.headers["X-Published-Version"] = snapshot.version
        return fn(snapshot)


class Pager:
    """One page of a list: ``limit`` rows from ``offset``, and a next link when more follow."""

    def __init__(self, request: Request, response: Response, limit: Limit = 1000, offset: Offset = 0):
        self.request, self.response, self.limit, self.offset = request, response, limit, offset

    def of(self, fetch: Callable[[Snapshot, int, int], list]) -> list:
        rows = read(self.request, self.response, lambda s: fetch(s, self.limit + 1, self.offset))
        if len(rows) > self.limit:
            following = self.request.url.include_query_params(offset=self.offset + self.limit, limit=self.limit)
            self.response.headers["Link"] = f'<{following}>; rel="next"'
        return rows[: self.limit]

    def mart(self, mart: str, window: Window | None = None, at_most: dict | None = None, **equals) -> list:
        return self.of(
            lambda s, limit, offset: queries.select_mart(
                s,
                mart,
                start=window.start if window else None,
                end=window.end if window else None,
                equals=equals,
                at_most=at_most,
                limit=limit,
                offset=offset,
            )
        )


Page = Annotated[Pager, Depends()]
Days = Annotated[Window, Depends()]


def create_app(reader: Reader) -> FastAPI:
    """The API over ``reader`` (local serving copy or Postgres)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        reader.close()

    app = FastAPI(
        title="Shopper Analytics API",
        version="1",
        description=(
            "Rows of the published marts (CONTRACT.md, 'Serving'). Date ranges are inclusive; lists page with "
            '`limit`/`offset` and a `Link: rel="next"` header. `/health` reports the published version.'
        ),
        lifespan=lifespan,
    )
    app.state.reader = reader

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return _problem(422, _validation_message(exc.errors()), errors=errors)

    @app.exception_handler(queries.MartMissing)
    async def not_built(_: Request, exc: queries.MartMissing) -> JSONResponse:
        return _problem(503, str(exc), mart=exc.mart)

    @app.exception_handler(ReadError)
    async def unreadable(_: Request, exc: ReadError) -> JSONResponse:
        return _problem(503, f"The published marts could not be read: {exc}")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return _problem(500, f"Internal error ({type(exc).__name__}); see the server log.")

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """The published version the API reads, and how old it is."""
        with reader.snapshot() as s:
            empty = s.version is None and not s.marts
            return Health(
                status="no_data" if empty else "ok",
                backend=s.backend,
                version=s.version,
                published_at=s.published_at,
                age_seconds=s.age_seconds,
                marts=sorted(m for m in s.marts if m in SERVED),
                not_built=sorted(m for m in SERVED if not s.has(m)),
                message=NOTHING_PUBLISHED if empty else None,
            )

    @app.get("/kpis", response_model=list[KpiDay], tags=["kpi"])
    def kpis(page: Page, days: Days):
        """Rows of kpi_daily, one per UTC day, for the days in [start, end]."""
        return page.mart("kpi_daily", days)

    @app.get("/revenue/categories", response_model=list[CategoryDay], tags=["kpi"])
    def revenue_by_category(page: Page, days: Days, category: str | None = None):
        """Rows of revenue_by_category_daily."""
        return page.mart("revenue_by_category_daily", days, category=category)

    @app.get("/products/top", response_model=list[ProductDay], tags=["kpi"])
    def top_products(
        page: Page,
        days: Days,
        category: str | None = None,
        product_id: str | None = None,
        max_rank: Annotated[int | None, Query(ge=1, description="Only ranks up to this one per day.")] = None,
    ):
        """Rows of top_products_daily (ranked by revenue per day)."""
        return page.mart(
            "top_products_daily", days, {"revenue_rank": max_rank}, category=category, product_id=product_id
        )

    @app.get("/orders/hourly", response_model=list[OrdersHour], tags=["kpi"])
    def orders_per_hour(page: Page, days: Days):
        """Rows of orders_per_hour (every hour of each day, zero included)."""
        return page.mart("orders_per_hour", days)

    @app.get("/funnel", response_model=list[FunnelDay], tags=["kpi"])
    def funnel(page: Page, days: Days):
        """Rows of funnel_daily: sessions reaching each step, and step rates."""
        return page.mart("funnel_daily", days)

    @app.get("/customers/ltv", response_model=list[CustomerLtv], tags=["customers"])
    def customer_ltv(page: Page, tier: Tier | None = None, is_repeat: bool | None = None):
        """Rows of customer_ltv, highest revenue first."""
        return page.mart("customer_ltv", ltv_tier=tier, is_repeat=is_repeat)

    @app.get("/customers/{user_id}/ltv", response_model=CustomerLtv, tags=["customers"])
    def one_customer(user_id: str, request: Request, response: Response):
        """The customer_ltv row of one user (404 when the user never purchased)."""
        rows = read(
            request, response, lambda s: queries.select_mart(s, "customer_ltv", equals={"user_id": user_id}, limit=1)
        )
        if not rows:
            raise HTTPException(404, f"No customer {user_id!r} in customer_ltv (users appear once they purchase).")
        return rows[0]

    @app.get("/cohorts/retention", response_model=list[CohortWeek], tags=["customers"])
    def cohort_retention(page: Page, weeks: Days):
        """Rows of cohort_retention; start and end select cohort weeks (Mondays)."""
        return page.mart("cohort_retention", weeks)

    @app.get("/revenue/monthly", response_model=list[RevenueMonth], tags=["revenue"])
    def revenue_monthly(page: Page, months: Days):
        """Rows of revenue_monthly, with month-over-month growth; start and end select months (first days)."""
        return page.mart("revenue_monthly", months)

    @app.get("/revenue/weekday", response_model=list[RevenueWeekday], tags=["revenue"])
    def revenue_by_weekday(page: Page):
        """Rows of revenue_by_weekday (1 = Monday ... 7 = Sunday)."""
        return page.mart("revenue_by_weekday")

    @app.get("/brands/top", response_model=list[BrandDay], tags=["revenue"])
    def top_brands(
        page: Page,
        days: Days,
        brand: str | None = None,
        max_rank: Annotated[int | None, Query(ge=1, description="Only ranks up to this one per day.")] = None,
    ):
        """Rows of top_brands_daily."""
        return page.mart("top_brands_daily", days, {"rank": max_rank}, brand=brand)

    @app.get("/cart-abandonment", response_model=list[CartAbandonmentDay], tags=["funnel"])
    def cart_abandonment(page: Page, days: Days):
        """Rows of cart_abandonment_daily."""
        return page.mart("cart_abandonment_daily", days)

    @app.get("/campaigns/performance", response_model=list[CampaignDay], tags=["marketing"])
    def campaign_performance(page: Page, days: Days, campaign_id: str | None = None):
        """Rows of campaign_performance_daily (last-touch attribution)."""
        return page.mart("campaign_performance_daily", days, campaign_id=campaign_id)

    @app.get("/attribution", response_model=list[OrderAttribution], tags=["marketing"])
    def order_attribution(
        page: Page, model: AttributionModel | None = None, campaign_id: str | None = None, order_id: str | None = None
    ):
        """Rows of order_attribution: each order's credit per campaign under each model."""
        return page.mart("order_attribution", model=model, campaign_id=campaign_id, order_id=order_id)

    @app.get("/attribution/summary", response_model=list[AttributionTotal], tags=["marketing"])
    def attribution_summary(request: Request, response: Response, model: AttributionModel | None = None):
        """Per model and campaign: orders credited, credit and attributed revenue (models side by side)."""
        return read(request, response, lambda s: queries.attribution_summary(s, model))

    @app.get("/quality", response_model=list[QualityDay], tags=["quality"])
    def data_quality(page: Page, days: Days):
        """Rows of dq_score_daily: per UTC day the share of landed lines that became clean events (dq_score),
        the lines lost, late events and the lake checks' verdict on the day."""
        return page.mart("dq_score_daily", days)

    @app.get("/quality/losses", response_model=list[QualityLoss], tags=["quality"])
    def data_quality_losses(page: Page, days: Days, reason: str | None = None):
        """Rows of dq_losses_daily: landed lines lost per day and reason (quarantine reasons, duplicate)."""
        return page.mart("dq_losses_daily", days, reason=reason)

    @app.get("/products/{product_id}/recommendations", response_model=list[Recommendation], tags=["products"])
    def recommendations(product_id: str, page: Page):
        """Rows of product_recommendations for a product, best first (404 for an unknown product)."""

        def fetch(s: Snapshot, limit: int, offset: int) -> list[dict]:
            queries.require(s, "product_recommendations")
            if not queries.product_known(s, product_id):
                raise HTTPException(404, f"Unknown product {product_id!r}.")
            return queries.select_mart(
                s, "product_recommendations", equals={"product_id": product_id}, limit=limit, offset=offset
            )

        return page.of(fetch)

    return app


def app_from_env() -> FastAPI:
    """The app for the deployment in the environment (uvicorn factory, used by ``shopper serve``)."""
    return create_app(open_reader())
