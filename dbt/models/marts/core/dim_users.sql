{{
    config(
        materialized='window_table',
        increment={'key': 'user_id', 'source': 'int_user_days', 'date_column': 'event_date'},
        post_hook="{{ increment_record() }}",
    )
}}
{#- One row per user ever seen. user_type, acquisition referrer / campaign, country and device are
    those of the user's first session; first_order_* its first purchase. Incremental (delete+insert
    on user_id): the users active in the rebuild window are rebuilt from all their int_user_days
    rows (so first seen and first order stay exact whatever order days are processed in) and
    replace their previous rows; other users are left alone. Within the window only the users whose
    days changed since this model's last run are rebuilt (macros/increment.sql). -#}
{%- set plan = increment_plan() %}
{%- set first = first_values(
    ['first_session_is_new', 'first_referrer', 'first_campaign_id', 'first_country', 'first_device_type'],
    ['first_event_time']) %}
with user_days as (
    select *
    from {{ ref('int_user_days') }}
    {%- if is_windowed() %}
    where user_id in (
        select user_id from {{ ref('int_user_days') }}
        where {{ increment_rebuild_filter(plan, 'event_date') }} or {{ increment_changed(plan, 'event_date') }}
    )
    {%- endif %}
),

users as (
    select
        user_id,
        min(first_event_time) as first_seen_at,
        max(last_event_time) as last_seen_at,
        {{ first['first_session_is_new'] }} as first_session_is_new,
        {{ first['first_referrer'] }} as acquisition_referrer,
        {{ first['first_campaign_id'] }} as acquisition_campaign_id,
        {{ first['first_country'] }} as country,
        {{ first['first_device_type'] }} as device_type,
        count(*) as active_days,
        sum(sessions) as sessions,
        sum(events) as events
    from user_days
    group by user_id
),

first_orders as (
    select
        user_id,
        min(event_time) as first_order_at,
        {{ first_by('order_id', ['event_time', 'event_id']) }} as first_order_id
    from {{ ref('fct_order_items') }}
    {%- if is_windowed() %}
    where user_id in (select user_id from users)
    {%- endif %}
    group by user_id
)

select
    {{ surrogate_key(['u.user_id']) }} as user_key,
    u.user_id,
    u.first_seen_at,
    cast(u.first_seen_at as date) as first_seen_date,
    u.last_seen_at,
    case when u.first_session_is_new then 'new' else 'returning' end as user_type,
    u.acquisition_referrer,
    u.acquisition_campaign_id,
    {{ surrogate_key(['u.acquisition_campaign_id']) }} as acquisition_campaign_key,
    u.country,
    u.device_type,
    o.first_order_at,
    cast(o.first_order_at as date) as first_order_date,
    o.first_order_id,
    o.first_order_at is not null as is_customer,
    u.active_days,
    u.sessions,
    u.events
from users as u
left join first_orders as o on o.user_id = u.user_id
