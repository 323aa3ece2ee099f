{{
    config(
        materialized='window_table',
        window_column='order_date',
        increment={'key': 'order_id', 'source': 'fct_order_items', 'date_column': 'event_date'},
        post_hook="{{ increment_record() }}",
    )
}}
{#- Order grain, from the order lines (purchase events). Incremental: orders with a line in the
    rebuild window that changed since this model's last run (macros/increment.sql) are rebuilt
    from their lines within session_lookback_days around it and replace their previous rows. -#}
{%- set lookback = var('session_lookback_days', 1) | int %}
{%- set plan = increment_plan() %}
{%- set ord = ['event_time', 'event_id'] %}
with lines as (
    select i.*
    from {{ ref('fct_order_items') }} as i
    {%- if is_windowed() %}
    where i.order_id in (
        select order_id from {{ ref('fct_order_items') }}
        where {{ increment_rebuild_filter(plan, 'event_date') }} or {{ increment_changed(plan, 'event_date') }}
    )
      and {{ window_filter('i.event_date', before=lookback, after=lookback) }}
    {%- endif %}
),

orders as (
    select
        order_id,
        {{ first_by('user_id', ord) }} as user_id,
        {{ first_by('session_id', ord) }} as session_id,
        min(event_time) as order_time,
        count(*) as lines,
        sum(quantity) as items,
        sum(gross_amount) as gross_revenue,
        sum(discount_amount) as discount_amount,
        sum(net_amount) as net_revenue,
        {{ first_by('discount_code', ord, ignore_nulls=true) }} as discount_code,
        {{ first_by('currency', ord) }} as currency,
        {{ first_by('device_type', ord) }} as device_type,
        {{ first_by('country', ord) }} as country
    from lines
    group by order_id
)

select
    {{ surrogate_key(['order_id']) }} as order_key,
    order_id,
    {{ surrogate_key(['user_id']) }} as user_key,
    user_id,
    {{ surrogate_key(['session_id']) }} as session_key,
    session_id,
    order_time,
    cast(order_time as date) as order_date,
    {{ date_key('cast(order_time as date)') }} as date_key,
    lines,
    items,
    gross_revenue,
    discount_amount,
    net_revenue,
    discount_code,
    currency,
    device_type,
    country
from orders
