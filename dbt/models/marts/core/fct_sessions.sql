{{
    config(
        materialized='window_table',
        increment={
            'key': 'session_id',
            'source': 'int_session_days',
            'date_column': 'event_date',
            'prune_column': 'session_start_date',
            'prune_days': var('session_lookback_days', 1) + 1,
        },
        post_hook="{{ increment_record() }}",
    )
}}
{#- Session grain, assembled from the session's day slices (int_session_days). Incremental: every
    session with events in the rebuild window is rebuilt from its slices within
    session_lookback_days (default 1) before and after the window, and replaces its previous row;
    a session lasts less than a day, so it touches at most two UTC days. Within the window only the
    sessions whose slices changed since this model's last run are rebuilt (macros/increment.sql). -#}
{%- set lookback = var('session_lookback_days', 1) | int %}
{%- set plan = increment_plan() %}
with slices as (
    select s.*
    from {{ ref('int_session_days') }} as s
    {%- if is_windowed() %}
    where s.session_id in (
        select session_id from {{ ref('int_session_days') }}
        where {{ increment_rebuild_filter(plan, 'event_date') }} or {{ increment_changed(plan, 'event_date') }}
    )
      and {{ window_filter('s.event_date', before=lookback, after=lookback) }}
    {%- endif %}
),

spans as (
    -- sessions with slices on several days (a small minority): their totals
    select
        session_id,
        min(first_event_time) as session_start,
        max(last_event_time) as session_end,
        count(*) as days_spanned,
        sum(events) as events,
        sum(page_views) as page_views,
        sum(ad_events) as ad_events,
        sum(add_to_carts) as add_to_carts,
        sum(checkouts) as checkouts,
        sum(purchase_lines) as purchase_lines,
        max(max_funnel_step) as deepest_funnel_step
    from slices
    group by session_id
    having count(*) > 1
),

sessions as (
    -- one row per session: its first slice (the visit's attributes), with the totals of its
    -- spans for a session on several days; no string aggregation over all sessions
    select
        s.session_id,
        s.user_id,
        coalesce(m.session_start, s.first_event_time) as session_start,
        coalesce(m.session_end, s.last_event_time) as session_end,
        coalesce(m.days_spanned, 1) as days_spanned,
        coalesce(m.events, s.events) as events,
        coalesce(m.page_views, s.page_views) as page_views,
        coalesce(m.ad_events, s.ad_events) as ad_events,
        coalesce(m.add_to_carts, s.add_to_carts) as add_to_carts,
        coalesce(m.checkouts, s.checkouts) as checkouts,
        coalesce(m.purchase_lines, s.purchase_lines) as purchase_lines,
        coalesce(m.deepest_funnel_step, s.max_funnel_step) as deepest_funnel_step,
        s.entry_page,
        s.referrer as entry_referrer,
        s.campaign_id,
        s.device_type,
        s.country
    from slices as s
    left join spans as m on m.session_id = s.session_id
    where m.session_id is null or s.first_event_time = m.session_start
),

session_orders as (
    select
        session_id,
        count(distinct order_id) as orders,
        sum(gross_amount) as revenue,
        sum(net_amount) as net_revenue
    from {{ ref('fct_order_items') }}
    where session_id in (select session_id from sessions)
    {%- if is_windowed() %}
      and {{ window_filter('event_date', before=lookback, after=lookback) }}
    {%- endif %}
    group by session_id
)

select
    {{ surrogate_key(['s.session_id']) }} as session_key,
    s.session_id,
    {{ surrogate_key(['s.user_id']) }} as user_key,
    s.user_id,
    s.session_start,
    s.session_end,
    cast(s.session_start as date) as session_start_date,
    {{ date_key('cast(s.session_start as date)') }} as date_key,
    {{ seconds_between('s.session_start', 's.session_end') }} as duration_seconds,
    s.days_spanned,
    s.events,
    s.page_views,
    s.add_to_carts,
    s.checkouts,
    s.purchase_lines,
    s.deepest_funnel_step,
    {{ funnel_step_name('s.deepest_funnel_step') }} as deepest_funnel_step_name,
    s.events - s.ad_events = 1 and s.page_views = 1 as is_bounce,
    s.purchase_lines > 0 as converted,
    coalesce(o.orders, 0) as orders,
    coalesce(o.revenue, 0) as revenue,
    coalesce(o.net_revenue, 0) as net_revenue,
    s.entry_page,
    s.entry_referrer,
    {{ surrogate_key(['s.campaign_id']) }} as campaign_key,
    s.campaign_id,
    s.device_type,
    s.country
from sessions as s
left join session_orders as o on o.session_id = s.session_id
