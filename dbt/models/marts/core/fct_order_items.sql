{{
    config(
        materialized='window_table',
        window_column='event_date',
        increment={'day_column': 'event_date'},
        post_hook="{{ increment_record() }}",
    )
}}
{#- Order-line grain: one row per purchase event (the contract has one purchase event per order
    line), with the product and order attributes of the line. A run adds the lines of the lake
    parts fct_events loaded since its last run, or rebuilds whole days (macros/increment.sql). -#}
{%- set plan = increment_plan() %}
select
    {{ surrogate_key(['event_id']) }} as order_item_key,
    event_id,
    {{ surrogate_key(['order_id']) }} as order_key,
    order_id,
    event_time,
    event_date,
    event_hour,
    {{ date_key('event_date') }} as date_key,
    {{ surrogate_key(['user_id']) }} as user_key,
    user_id,
    {{ surrogate_key(['session_id']) }} as session_key,
    session_id,
    {{ surrogate_key(['product_id']) }} as product_key,
    product_id,
    {{ surrogate_key(['category']) }} as category_key,
    category,
    brand,
    quantity,
    price as unit_price,
    price * quantity as gross_amount,
    coalesce(discount_amount, 0) as discount_amount,
    price * quantity - coalesce(discount_amount, 0) as net_amount,
    discount_code,
    currency,
    device_type,
    country,
    campaign_id,
    {{ increment_stamp(plan, 'event_date') }} as _loaded_at
from {{ ref('stg_events') }}
where event_type = 'purchase'
  and {{ increment_events_filter(plan) }}
