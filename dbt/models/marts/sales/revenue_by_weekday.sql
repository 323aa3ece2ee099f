{{ config(materialized='table', tags=['whole_history']) }}
{#- Revenue and orders by ISO weekday (1 = Monday ... 7 = Sunday) over the whole history, with the
    number of such days that had events and the average per day (definitions in sales.yml). -#}
{%- set day_names = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] %}
with lines as (
    select
        cast(extract(isodow from event_date) as integer) as weekday,
        {{ order_line_measures(only=['orders', 'items', 'revenue']) }}
    from {{ ref('fct_order_items') }}
    group by 1
),

activity as (
    select cast(extract(isodow from event_date) as integer) as weekday, count(*) as days_with_events
    from {{ ref('kpi_daily') }}
    group by 1
),

weekdays as (
    select cast(n as integer) as weekday from generate_series(1, 7) as g(n)
)

select
    w.weekday,
    case w.weekday
        {%- for name in day_names %} when {{ loop.index }} then '{{ name }}'{% endfor %}
    end as weekday_name,
    coalesce(l.revenue, 0) as revenue,
    coalesce(l.orders, 0) as orders,
    coalesce(l.items, 0) as items,
    coalesce(a.days_with_events, 0) as days_with_events,
    {{ safe_ratio('coalesce(l.revenue, 0)', 'a.days_with_events') }} as avg_daily_revenue,
    {{ safe_ratio('coalesce(l.orders, 0)', 'a.days_with_events') }} as avg_daily_orders
from weekdays as w
left join lines as l on l.weekday = w.weekday
left join activity as a on a.weekday = w.weekday
