{{
    config(
        materialized='window_table',
        window_column='event_date',
        increment={'day_column': 'event_date', 'replace_folded_days': true},
        reads_itself=true,
        post_hook="{{ increment_record() }}",
    )
}}
{#- One row per (event_date, product_id, category, brand, price) seen on product events: the
    variants a product appeared with that day, with first / last time and counts. dim_products
    takes the latest variant; grouping by the attributes keeps this a single cheap pass. Every
    aggregate combines, so a run folds the new events' variants into the day's rows (a few per
    product: macros/increment.sql; attributes may be NULL, which group by keeps as one variant). -#}
{%- set plan = increment_plan() %}
with events as (
    select event_date, product_id, category, brand, price, event_time, event_type
    from {{ ref('stg_events') }}
    where product_id is not null
      and {{ increment_events_filter(plan) }}
),

variants as (
    select
        event_date,
        product_id,
        category,
        brand,
        price,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        count(*) as events,
        count(*) filter (where event_type = 'product_view') as product_views,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'purchase') as purchase_lines
    from events
    group by event_date, product_id, category, brand, price
)
{%- if plan['fold'] %},

folded as (
    -- the new events' variants with the current rows of the days folded
    select * from variants
    union all
    select
        event_date, product_id, category, brand, price, first_event_time, last_event_time, events,
        product_views, add_to_carts, purchase_lines
    from {{ this }}
    where {{ increment_fold_filter(plan, 'event_date') }}
),

combined as (
    select
        event_date,
        product_id,
        category,
        brand,
        price,
        min(first_event_time) as first_event_time,
        max(last_event_time) as last_event_time,
        sum(events) as events,
        sum(product_views) as product_views,
        sum(add_to_carts) as add_to_carts,
        sum(purchase_lines) as purchase_lines
    from folded
    group by event_date, product_id, category, brand, price
)
{%- endif %}

select * from {{ 'combined' if plan['fold'] else 'variants' }}
