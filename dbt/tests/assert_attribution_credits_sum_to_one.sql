{{ config(meta={'dagster': {'ref': {'name': 'order_attribution'}}}) }}
{#- Every order of the rebuild window has all four attribution models, and in each the credits sum
    to 1 (within floating-point rounding) and the attributed revenue to the order's revenue.
    Returns the (order, model) pairs that break it. -#}
with orders as (
    select order_id, gross_revenue from {{ ref('fct_orders') }} where {{ window_predicate('order_date') }}
),

models as (
    select 'first_touch' as model
    union all select 'last_touch'
    union all select 'linear'
    union all select 'position_based'
),

credited as (
    select order_id, model, sum(credit) as credit, sum(attributed_revenue) as attributed_revenue
    from {{ ref('order_attribution') }}
    where {{ window_predicate('order_date') }}
    group by order_id, model
)

select o.order_id, m.model, c.credit, c.attributed_revenue, o.gross_revenue
from orders as o
cross join models as m
left join credited as c on c.order_id = o.order_id and c.model = m.model
where c.order_id is null
   or abs(c.credit - 1) > 1e-9
   or abs(c.attributed_revenue - cast(o.gross_revenue as double precision)) > 1e-6 * (1 + cast(o.gross_revenue as double precision))
