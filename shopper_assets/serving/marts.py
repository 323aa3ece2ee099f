"""The marts that readers see: the one list the publisher, the API and the dashboard share.

Names and contract columns come from CONTRACT.md ("KPI marts" in `kpi_daily`'s definition, and
"Analytics marts"); a mart may have more columns than listed, and readers pass them through. A mart
that is not built yet (e.g. the whole-history marts before their asset is first materialized) is
simply absent from a published version, and every reader says so with :func:`not_built_message`.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA = "marts"


@dataclass(frozen=True)
class Mart:
    name: str
    title: str
    #: column a date range filters on (a date, or the first day of a week / month); None: no range
    date_column: str | None
    #: columns readers rely on (CONTRACT.md); the mart may hold more
    columns: tuple[str, ...]
    order_by: tuple[str, ...]
    #: "daily" (rebuilt per day partition) or "whole-history" (rebuilt from all days)
    grain: str = "daily"


KPI_MARTS = (
    Mart(
        "kpi_daily",
        "Headline KPIs per day",
        "event_date",
        ("event_date", "dau", "sessions", "orders", "revenue", "aov", "conversion_rate"),
        ("event_date",),
    ),
    Mart(
        "revenue_by_category_daily",
        "Revenue by category per day",
        "event_date",
        ("event_date", "category", "orders", "items", "revenue", "revenue_share"),
        ("event_date", "revenue DESC", "category"),
    ),
    Mart(
        "top_products_daily",
        "Top products per day",
        "event_date",
        ("event_date", "product_id", "category", "orders", "units", "revenue", "revenue_rank"),
        ("event_date", "revenue_rank", "product_id"),
    ),
    Mart(
        "orders_per_hour",
        "Orders per hour",
        "event_date",
        ("event_hour", "event_date", "hour_of_day", "orders", "revenue"),
        ("event_hour",),
    ),
    Mart(
        "funnel_daily",
        "Session funnel per day",
        "event_date",
        (
            "event_date",
            "sessions",
            "sessions_page_view",
            "sessions_product_view",
            "sessions_add_to_cart",
            "sessions_checkout",
            "sessions_purchase",
        ),
        ("event_date",),
    ),
)

ANALYTICS_MARTS = (
    Mart(
        "customer_ltv",
        "Customer lifetime value",
        None,
        ("user_id", "first_order_date", "last_order_date", "orders", "revenue", "is_repeat", "ltv_tier"),
        ("revenue DESC", "user_id"),
        "whole-history",
    ),
    Mart(
        "cohort_retention",
        "Weekly cohort retention",
        "cohort_week",
        ("cohort_week", "weeks_since", "cohort_users", "active_users", "retention_rate"),
        ("cohort_week", "weeks_since"),
        "whole-history",
    ),
    Mart(
        "revenue_monthly",
        "Revenue per month",
        "month",
        ("month", "revenue", "orders", "mom_growth"),
        ("month",),
        "whole-history",
    ),
    Mart(
        "revenue_by_weekday",
        "Revenue by weekday",
        None,
        ("weekday", "revenue", "orders"),
        ("weekday",),
        "whole-history",
    ),
    Mart(
        "top_brands_daily",
        "Top brands per day",
        "event_date",
        ("event_date", "brand", "revenue", "orders", "rank"),
        ("event_date", "rank", "brand"),
    ),
    Mart(
        "cart_abandonment_daily",
        "Cart abandonment per day",
        "event_date",
        ("event_date", "carts", "abandoned_carts", "abandonment_rate"),
        ("event_date",),
    ),
    Mart(
        "campaign_performance_daily",
        "Campaign performance per day",
        "event_date",
        (
            "event_date",
            "campaign_id",
            "impressions",
            "clicks",
            "ctr",
            "spend",
            "cpc",
            "attributed_orders",
            "attributed_revenue",
            "cpa",
            "roas",
        ),
        ("event_date", "campaign_id"),
    ),
    Mart(
        "order_attribution",
        "Order attribution",
        None,
        ("order_id", "model", "campaign_id", "credit", "attributed_revenue"),
        ("order_id", "model", "campaign_id"),
    ),
    Mart(
        "product_recommendations",
        "Products bought together",
        None,
        ("product_id", "recommended_product_id", "rank", "orders_together", "support", "confidence", "lift"),
        ("product_id", "rank"),
        "whole-history",
    ),
)

#: The data-quality marts (operations/data_quality.py, dbt/models/marts/quality): the dashboard's overview and /quality.
QUALITY_MARTS = (
    Mart(
        "dq_score_daily",
        "Data quality per day",
        "event_date",
        (
            "event_date",
            "landed_lines",
            "clean_events",
            "quarantined_lines",
            "duplicate_lines",
            "late_events",
            "dq_score",
            "checks_passed",
            "checks_failed",
        ),
        ("event_date",),
    ),
    Mart(
        "dq_losses_daily",
        "Lines lost per day and reason",
        "event_date",
        ("event_date", "reason", "lines", "share_of_landed"),
        ("event_date", "lines DESC", "reason"),
    ),
)

#: Dimensions readers look things up in (a product exists, a category or campaign's name).
DIMENSIONS = (
    Mart("dim_products", "Products", None, ("product_id", "category", "brand"), ("product_id",)),
    Mart("dim_categories", "Categories", None, ("category",), ("category",)),
    Mart("dim_campaigns", "Campaigns", None, ("campaign_id",), ("campaign_id",)),
)

SERVED: dict[str, Mart] = {m.name: m for m in (*KPI_MARTS, *ANALYTICS_MARTS, *QUALITY_MARTS, *DIMENSIONS)}

ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "position_based")
LTV_TIERS = ("high", "medium", "low")


def not_built_message(name: str) -> str:
    """What a reader says about a mart missing from the published version."""
    mart = SERVED.get(name)
    how = (
        "materialize it in the Dagster UI (dagster dev), or run `shopper demo`"
        if mart is None or mart.grain == "daily"
        else "materialize the whole-history marts in the Dagster UI (dagster dev), or run `shopper demo`"
    )
    return f"{name} is not built yet (run the dbt build that creates it: {how})."


NOTHING_PUBLISHED = (
    "No marts are published yet: run `shopper demo` first (or a dbt build in Dagster: each successful build "
    "publishes the marts for readers)."
)
