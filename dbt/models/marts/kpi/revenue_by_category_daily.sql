{{ config(unique_key='event_date', window_column='event_date') }}
{#- Purchase revenue per UTC day and product category. -#}
with by_category as (
    select
        event_date,
        category_key,
        category,
        {{ order_line_measures() }}
    from {{ ref('fct_order_items') }}
    where {{ window_filter('event_date') }}
    group by event_date, category_key, category
)

select
    event_date,
    {{ date_key('event_date') }} as date_key,
    category_key,
    category,
    orders,
    order_lines,
    items,
    revenue,
    discount_amount,
    net_revenue,
    {{ safe_ratio('revenue', 'sum(revenue) over (partition by event_date)') }} as revenue_share
from by_category
