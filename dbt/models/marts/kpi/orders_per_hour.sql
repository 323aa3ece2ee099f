{{ config(unique_key='event_date', window_column='event_date') }}
{#- Orders per UTC hour: all 24 hours of every day with events (zero when no purchase). -#}
with days as (
    select distinct event_date
    from {{ ref('int_user_days') }}
    where {{ window_filter('event_date') }}
),

hours as (
    select
        d.event_date,
        h.hour_of_day,
        {{ dbt.dateadd('hour', 'h.hour_of_day', 'cast(d.event_date as timestamp)') }} as event_hour
    from days as d
    cross join (select cast(n as integer) as hour_of_day from generate_series(0, 23) as g(n)) as h
),

by_hour as (
    select
        event_hour,
        {{ order_line_measures(only=['orders', 'order_lines', 'items', 'revenue']) }}
    from {{ ref('fct_order_items') }}
    where {{ window_filter('event_date') }}
    group by event_hour
)

select
    h.event_hour,
    h.event_date,
    h.hour_of_day,
    coalesce(b.orders, 0) as orders,
    coalesce(b.order_lines, 0) as order_lines,
    coalesce(b.items, 0) as items,
    coalesce(b.revenue, 0) as revenue
from hours as h
left join by_hour as b on b.event_hour = h.event_hour
