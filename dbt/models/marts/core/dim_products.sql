{#- One row per product_id seen on events, with its latest category and brand and latest known
    price (the variant seen last; ties broken by category, brand, price) and the price band. -#}
{%- set latest = ['last_event_time', "coalesce(category, '')", "coalesce(brand, '')", 'coalesce(price, -1)'] %}
with products as (
    select
        product_id,
        {{ last_by('category', latest) }} as category,
        {{ last_by('brand', latest, ignore_nulls=true) }} as brand,
        {{ last_by('price', latest, ignore_nulls=true) }} as current_price,
        min(first_event_time) as first_seen_at,
        max(last_event_time) as last_seen_at,
        count(distinct category) as categories_seen,
        sum(product_views) as product_views,
        sum(add_to_carts) as add_to_carts,
        sum(purchase_lines) as purchase_lines
    from {{ ref('int_product_days') }}
    group by product_id
)

select
    {{ surrogate_key(['product_id']) }} as product_key,
    product_id,
    {{ surrogate_key(['category']) }} as category_key,
    category,
    brand,
    current_price,
    {{ price_band('current_price') }} as price_band,
    cast(first_seen_at as date) as first_seen_date,
    cast(last_seen_at as date) as last_seen_date,
    categories_seen,
    product_views,
    add_to_carts,
    purchase_lines
from products
