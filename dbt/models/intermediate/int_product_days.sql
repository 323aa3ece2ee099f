{{ config(unique_key='event_date', window_column='event_date') }}
{#- One row per (event_date, product_id, category, brand, price) seen on product events: the
    variants a product appeared with that day, with first / last time and counts. dim_products
    takes the latest variant; grouping by the attributes keeps this a single cheap pass. -#}
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
from {{ ref('stg_events') }}
where product_id is not null
  and {{ window_filter('event_hour', as_timestamp=true) }}
group by event_date, product_id, category, brand, price
