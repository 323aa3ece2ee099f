{{ config(materialized='table', tags=['whole_history']) }}
{#- Revenue and orders per calendar month (UTC), every month from the first to the last with
    events, and the growth over the previous month (definitions in sales.yml). Order lines are
    read whole (fct_order_items, about 1 % of events): an order's distinct count per month needs
    its lines. -#}
with lines as (
    select
        cast({{ dbt.date_trunc('month', 'event_date') }} as date) as month,
        {{ order_line_measures(only=['orders', 'items', 'revenue', 'net_revenue']) }}
    from {{ ref('fct_order_items') }}
    group by 1
),

activity as (
    select cast({{ dbt.date_trunc('month', 'event_date') }} as date) as month, count(*) as days_with_events
    from {{ ref('kpi_daily') }}
    group by 1
),

months as (
    select cast(m as date) as month
    from (select min(month) as first_month, max(month) as last_month from activity) as r
    cross join generate_series(
        cast(r.first_month as timestamp), cast(r.last_month as timestamp), interval '1 month'
    ) as g(m)
),

filled as (
    select
        m.month,
        coalesce(a.days_with_events, 0) as days_with_events,
        coalesce(l.orders, 0) as orders,
        coalesce(l.items, 0) as items,
        coalesce(l.revenue, 0) as revenue,
        coalesce(l.net_revenue, 0) as net_revenue
    from months as m
    left join activity as a on a.month = m.month
    left join lines as l on l.month = m.month
)

select
    month,
    days_with_events,
    revenue,
    orders,
    items,
    net_revenue,
    {{ safe_ratio('revenue', 'orders') }} as aov,
    {{ safe_ratio('revenue - lag(revenue) over (order by month)', 'lag(revenue) over (order by month)') }}
        as mom_growth
from filled
