{{ config(meta={'dagster': {'ref': {'name': 'kpi_daily'}}}) }}
{#- Revenue reconciles across the marts, for every day of the rebuild window:
    kpi_daily.revenue = Σ revenue_by_category_daily.revenue = Σ orders_per_hour.revenue
    = Σ top_brands_daily.revenue = Σ fct_order_items.gross_amount, and the orders of those days carry in fct_orders exactly the
    gross revenue of their lines. Returns the days that disagree. -#}
with kpi as (
    select event_date, revenue from {{ ref('kpi_daily') }} where {{ window_predicate('event_date') }}
),

by_category as (
    select event_date, sum(revenue) as revenue
    from {{ ref('revenue_by_category_daily') }}
    where {{ window_predicate('event_date') }}
    group by event_date
),

by_hour as (
    select event_date, sum(revenue) as revenue
    from {{ ref('orders_per_hour') }}
    where {{ window_predicate('event_date') }}
    group by event_date
),

by_brand as (
    select event_date, sum(revenue) as revenue
    from {{ ref('top_brands_daily') }}
    where {{ window_predicate('event_date') }}
    group by event_date
),

lines as (
    select event_date, sum(gross_amount) as revenue
    from {{ ref('fct_order_items') }}
    where {{ window_predicate('event_date') }}
    group by event_date
),

order_totals as (
    select
        sum(o.gross_revenue) as orders_revenue,
        (select sum(i.gross_amount)
         from {{ ref('fct_order_items') }} as i
         where i.order_id in (
             select order_id from {{ ref('fct_orders') }} where {{ window_predicate('order_date') }}
         )) as lines_revenue
    from {{ ref('fct_orders') }} as o
    where {{ window_predicate('o.order_date') }}
)

select k.event_date, k.revenue, c.revenue as category_revenue, h.revenue as hourly_revenue,
       b.revenue as brand_revenue, l.revenue as line_revenue, null as orders_revenue
from kpi as k
left join by_category as c on c.event_date = k.event_date
left join by_hour as h on h.event_date = k.event_date
left join by_brand as b on b.event_date = k.event_date
left join lines as l on l.event_date = k.event_date
where k.revenue <> coalesce(c.revenue, 0)
   or k.revenue <> coalesce(h.revenue, 0)
   or k.revenue <> coalesce(b.revenue, 0)
   or k.revenue <> coalesce(l.revenue, 0)

union all

select null, null, null, null, null, lines_revenue, orders_revenue
from order_totals
where coalesce(orders_revenue, 0) <> coalesce(lines_revenue, 0)
