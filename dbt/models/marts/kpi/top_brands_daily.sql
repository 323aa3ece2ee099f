{{ config(unique_key='event_date', window_column='event_date') }}
{#- Purchase revenue per UTC day and brand, ranked (1 = highest revenue; ties broken by brand so
    ranks are unique within a day). Lines without a brand count under '(unknown)', so a day's
    brands add up to kpi_daily.revenue. -#}
with by_brand as (
    select
        event_date,
        coalesce(brand, '(unknown)') as brand,
        {{ order_line_measures(only=['orders', 'items', 'revenue'], names={'items': 'units'}) }}
    from {{ ref('fct_order_items') }}
    where {{ window_filter('event_date') }}
    group by event_date, coalesce(brand, '(unknown)')
)

select
    event_date,
    {{ date_key('event_date') }} as date_key,
    brand,
    revenue,
    orders,
    units,
    {{ safe_ratio('revenue', 'sum(revenue) over (partition by event_date)') }} as revenue_share,
    row_number() over (partition by event_date order by revenue desc, brand) as rank
from by_brand
