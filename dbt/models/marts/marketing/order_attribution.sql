{{
    config(
        unique_key='order_date',
        window_column='order_date',
    )
}}
{#- Which campaigns get credit for each order, under four models (definitions in marketing.yml).

    A touch is a (session, campaign) pair of the ordering user - the session arrived from the
    campaign or clicked one of its ads - at its earliest such event, within the lookback before the
    order (its first line). Credits per order and model sum to 1; an order without touches credits
    '(none)'. Window: a run for days [lo, hi) redoes the orders of [lo - 1, hi + lookback): the day
    before because its orders may have lines in the window (fct_orders rebuilt them), the days after
    because the window's touches are credited to orders up to the lookback later. Touches are read
    from one more day before than the lookback needs, so a session crossing midnight there keeps
    its true start. -#}
{%- set lookback = var('attribution_lookback_days') | int %}
{%- set none_campaign = "'(none)'" %}
with orders as (
    select order_id, user_id, order_time, order_date, gross_revenue
    from {{ ref('fct_orders') }}
    where {{ window_filter('order_date', before=1, after=lookback) }}
),

session_touches as (
    select user_id, session_id, campaign_id, min(touch_time) as touch_time
    from {{ ref('int_campaign_touches') }}
    where {{ window_filter('touch_date', before=2 + lookback, after=lookback) }}
    group by user_id, session_id, campaign_id
),

order_touches as (
    select
        o.order_id,
        t.campaign_id,
        row_number() over (partition by o.order_id order by t.touch_time, t.session_id, t.campaign_id) as position,
        count(*) over (partition by o.order_id) as touches
    from orders as o
    inner join session_touches as t
        on t.user_id = o.user_id
        and t.touch_time <= o.order_time
        and t.touch_time >= {{ dbt.dateadd('day', -lookback, 'o.order_time') }}
),

credits as (
    select order_id, campaign_id, touches, 'first_touch' as model,
           case when position = 1 then cast(1 as double precision) else 0 end as credit
    from order_touches
    union all
    select order_id, campaign_id, touches, 'last_touch' as model,
           case when position = touches then cast(1 as double precision) else 0 end as credit
    from order_touches
    union all
    select order_id, campaign_id, touches, 'linear' as model,
           cast(1 as double precision) / touches as credit
    from order_touches
    union all
    select order_id, campaign_id, touches, 'position_based' as model,
           case
               when touches = 1 then cast(1 as double precision)
               when touches = 2 then cast(0.5 as double precision)
               when position = 1 or position = touches then cast(0.4 as double precision)
               else cast(0.2 as double precision) / (touches - 2)
           end as credit
    from order_touches
),

campaign_credits as (
    select order_id, model, campaign_id, max(touches) as touches, sum(credit) as credit
    from credits
    where credit > 0
    group by order_id, model, campaign_id
),

untouched as (
    select o.order_id, m.model, {{ none_campaign }} as campaign_id, 0 as touches, cast(1 as double precision) as credit
    from orders as o
    cross join (
        select 'first_touch' as model
        union all select 'last_touch'
        union all select 'linear'
        union all select 'position_based'
    ) as m
    where o.order_id not in (select order_id from order_touches)
),

attributed as (
    select * from campaign_credits
    union all
    select * from untouched
)

select
    a.order_id,
    o.order_date,
    o.order_time,
    o.user_id,
    a.model,
    a.campaign_id,
    a.credit,
    a.touches,
    o.gross_revenue as order_revenue,
    cast(o.gross_revenue as double precision) * a.credit as attributed_revenue
from attributed as a
inner join orders as o on o.order_id = a.order_id
