{{ config(materialized='window_table', window_column='event_date') }}
{#- Event grain: one row per cleaned event. Kept narrow on purpose: writing a column costs about
    1 s per 10M events, so attributes that belong to a dimension (the session's referrer, device,
    country; the product's category and brand; order lines) live in fct_sessions, dim_products
    and fct_order_items, reached through the keys here.

    Keys: event_id is the natural primary key; date_key (yyyymmdd) -> dim_dates; product_key,
    order_key and campaign_key are md5 surrogate keys (cheap: sparse or few values) -> dim_products,
    fct_orders, dim_campaigns; users and sessions are referenced by their natural ids user_id ->
    dim_users, session_id -> fct_sessions (both tables carry user_key / session_key), because
    hashing and storing two more 32-character keys per event would cost ~4-5 s per 10M events.

    Rebuilt per window (materialization window_table): the window is read from stg_events with the
    predicate on event_hour, the partition column of the lake. -#}
select
    event_id,
    event_time,
    event_date,
    {{ date_key('event_date') }} as date_key,
    event_type,
    funnel_step,
    page,
    user_id,
    session_id,
    {{ surrogate_key(['product_id']) }} as product_key,
    {{ surrogate_key(['order_id']) }} as order_key,
    {{ surrogate_key(['campaign_id']) }} as campaign_key,
    price,
    quantity
from {{ ref('stg_events') }}
where {{ window_filter('event_hour', as_timestamp=true) }}
