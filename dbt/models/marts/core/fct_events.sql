{{ config(materialized='window_table', window_column='event_date', increment='lake_parts') }}
{#- Event grain: one row per cleaned event. Kept narrow on purpose: writing a column costs about
    1 s per 10M events, so attributes that belong to a dimension (the session's referrer, device,
    country; the product's category and brand; order lines) live in fct_sessions, dim_products
    and fct_order_items, reached through the keys here.

    Keys: event_id is the natural primary key; date_key (yyyymmdd) -> dim_dates; product_key,
    order_key and campaign_key are md5 surrogate keys (cheap: sparse or few values) -> dim_products,
    fct_orders, dim_campaigns; users and sessions are referenced by their natural ids user_id ->
    dim_users, session_id -> fct_sessions (both tables carry user_key / session_key), because
    hashing and storing two more 32-character keys per event would cost ~4-5 s per 10M events.

    Loaded by lake part (materialization window_table, increment 'lake_parts', macros/increment.sql):
    a windowed run adds the rows of the window's lake part files it does not hold yet, and reloads
    whole any day of which the lake replaced a part; _lake_part and _loaded_at (this load's time)
    let the models downstream fold in only what was added. The first build, a run without window
    and --full-refresh read the window from stg_events with the predicate on event_hour. -#}
{%- set plan = lake_parts_plan() %}
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
    quantity,
    _lake_part,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as _loaded_at
from {{ ref('stg_events') }}
where {{ lake_parts_filter(plan) }}
