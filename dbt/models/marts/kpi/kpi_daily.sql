{{ config(unique_key='event_date', window_column='event_date') }}
{#- Headline KPIs per UTC day. Every figure only uses that day's events (definitions in kpi.yml). -#}
with users as (
    select
        event_date,
        count(*) as dau,
        count(*) filter (where has_new_event) as new_users
    from {{ ref('int_user_days') }}
    where {{ window_filter('event_date') }}
    group by event_date
),

sessions as (
    select
        event_date,
        count(*) as sessions,
        sum(events) as events,
        count(*) filter (where purchase_lines > 0) as converted_sessions,
        count(*) filter (where events - ad_events = 1 and page_views = 1) as bounced_sessions,
        avg({{ seconds_between('first_event_time', 'last_event_time') }}) as avg_session_duration_seconds
    from {{ ref('int_session_days') }}
    where {{ window_filter('event_date') }}
    group by event_date
),

orders as (
    select
        event_date,
        {{ order_line_measures() }}
    from {{ ref('fct_order_items') }}
    where {{ window_filter('event_date') }}
    group by event_date
)

select
    u.event_date,
    {{ date_key('u.event_date') }} as date_key,
    u.dau,
    u.new_users,
    u.dau - u.new_users as returning_users,
    s.sessions,
    s.events,
    coalesce(o.orders, 0) as orders,
    coalesce(o.order_lines, 0) as order_lines,
    coalesce(o.items, 0) as items,
    coalesce(o.revenue, 0) as revenue,
    coalesce(o.discount_amount, 0) as discount_amount,
    coalesce(o.net_revenue, 0) as net_revenue,
    {{ safe_ratio('o.revenue', 'o.orders') }} as aov,
    {{ safe_ratio('o.items', 'o.orders') }} as items_per_order,
    s.converted_sessions,
    {{ safe_ratio('s.converted_sessions', 's.sessions') }} as conversion_rate,
    s.bounced_sessions,
    {{ safe_ratio('s.bounced_sessions', 's.sessions') }} as bounce_rate,
    s.avg_session_duration_seconds
from users as u
inner join sessions as s on s.event_date = u.event_date
left join orders as o on o.event_date = u.event_date
