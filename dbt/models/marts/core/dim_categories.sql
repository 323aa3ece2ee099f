{#- One row per product category seen on events. -#}
select
    {{ surrogate_key(['category']) }} as category_key,
    category,
    count(distinct product_id) as products,
    count(distinct brand) as brands,
    min(price) as min_price,
    max(price) as max_price,
    cast(min(first_event_time) as date) as first_seen_date,
    sum(purchase_lines) as purchase_lines
from {{ ref('int_product_days') }}
where category is not null
group by category
