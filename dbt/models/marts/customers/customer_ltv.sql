{{ config(materialized='table', tags=['whole_history']) }}
{#- One row per user who ever purchased: lifetime orders and revenue, repeat flag and LTV tier
    (definitions and tier thresholds in customers.yml). Built from the order grain (fct_orders), a
    small fraction of the events, over the whole history. -#}
{%- set tiers = var('ltv_tier_percentiles') %}
with customers as (
    select
        user_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as orders,
        sum(items) as items,
        sum(gross_revenue) as revenue,
        sum(net_revenue) as net_revenue
    from {{ ref('fct_orders') }}
    group by user_id
),

ranked as (
    select *, percent_rank() over (order by revenue) as revenue_percentile
    from customers
)

select
    user_id,
    {{ surrogate_key(['user_id']) }} as user_key,
    first_order_date,
    last_order_date,
    orders,
    items,
    revenue,
    net_revenue,
    {{ safe_ratio('revenue', 'orders') }} as aov,
    orders >= 2 as is_repeat,
    last_order_date - first_order_date as lifetime_days,
    revenue_percentile,
    case
        when revenue_percentile >= {{ tiers['high'] }} then 'high'
        when revenue_percentile >= {{ tiers['medium'] }} then 'medium'
        else 'low'
    end as ltv_tier
from ranked
