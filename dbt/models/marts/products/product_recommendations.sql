{{ config(materialized='table', tags=['whole_history']) }}
{#- Bought together: for each product, the products most often in the same orders, ranked by lift
    among the pairs with enough orders together (definitions, N and the minimum in products.yml).
    Built from the distinct (order, product) pairs of the order lines over the whole history. -#}
{%- set top_n = var('recommendations_top_n') | int %}
{%- set min_orders = var('recommendations_min_orders') | int %}
with order_products as (
    select distinct order_id, product_id
    from {{ ref('fct_order_items') }}
),

totals as (
    select count(distinct order_id) as orders from order_products
),

product_orders as (
    select product_id, count(*) as orders
    from order_products
    group by product_id
),

pairs as (
    select a.product_id, b.product_id as recommended_product_id, count(*) as orders_together
    from order_products as a
    inner join order_products as b on b.order_id = a.order_id and b.product_id <> a.product_id
    group by a.product_id, b.product_id
    having count(*) >= {{ min_orders }}
),

scored as (
    select
        p.product_id,
        p.recommended_product_id,
        p.orders_together,
        pa.orders as product_orders,
        pb.orders as recommended_product_orders,
        {{ safe_ratio('p.orders_together', 't.orders') }} as support,
        {{ safe_ratio('p.orders_together', 'pa.orders') }} as confidence,
        {{ safe_ratio('cast(p.orders_together as double precision) * t.orders', 'cast(pa.orders as double precision) * pb.orders') }}
            as lift
    from pairs as p
    cross join totals as t
    inner join product_orders as pa on pa.product_id = p.product_id
    inner join product_orders as pb on pb.product_id = p.recommended_product_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by product_id order by lift desc, orders_together desc, recommended_product_id
        ) as rank
    from scored
)

select
    product_id,
    recommended_product_id,
    rank,
    orders_together,
    support,
    confidence,
    lift,
    product_orders,
    recommended_product_orders
from ranked
where rank <= {{ top_n }}
