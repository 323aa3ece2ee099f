{{ config(unique_key='event_date', window_column='event_date') }}
{#- Every product sold on a UTC day with its rank by revenue and by units (1 = best; ties broken
    by product_id so ranks are unique). Filter revenue_rank <= N for a top-N list. -#}
with by_product as (
    select
        event_date,
        product_key,
        product_id,
        max(category) as category,
        {{ order_line_measures(only=['orders', 'items', 'revenue', 'net_revenue'], names={'items': 'units'}) }}
    from {{ ref('fct_order_items') }}
    where {{ window_filter('event_date') }}
    group by event_date, product_key, product_id
)

select
    event_date,
    {{ date_key('event_date') }} as date_key,
    product_key,
    product_id,
    category,
    orders,
    units,
    revenue,
    net_revenue,
    row_number() over (partition by event_date order by revenue desc, product_id) as revenue_rank,
    row_number() over (partition by event_date order by units desc, product_id) as units_rank
from by_product
