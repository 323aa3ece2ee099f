{{
    config(
        unique_key='event_date',
        window_column='event_date',
    )
}}
{#- Per UTC day and campaign: ad events (impressions, clicks), cost (the ad-spend source) and the
    orders credited by the last-touch model, with the ratios marketers read (definitions in
    marketing.yml). A row exists for every (day, campaign) with ad events, campaign visits, spend
    or attributed orders. Same widened window as order_attribution, whose credits it reads. -#}
{%- set lookback = var('attribution_lookback_days') | int %}
with activity as (
    select event_date, campaign_id, impressions, clicks, arrival_clicks
    from {{ ref('int_campaign_days') }}
    where {{ window_filter('event_date', before=1, after=lookback) }}
),

spend as (
    select
        spend_date as event_date,
        campaign_id,
        sum(spend) as spend,
        sum(reported_impressions) as reported_impressions,
        sum(reported_clicks) as reported_clicks
    from {{ ref('stg_ad_spend') }}
    where {{ window_filter('spend_date', before=1, after=lookback) }}
    group by spend_date, campaign_id
),

attributed as (
    select
        order_date as event_date,
        campaign_id,
        count(*) as attributed_orders,
        sum(order_revenue) as attributed_revenue
    from {{ ref('order_attribution') }}
    where model = 'last_touch'
      and campaign_id <> '(none)'
      and {{ window_filter('order_date', before=1, after=lookback) }}
    group by order_date, campaign_id
),

days as (
    select event_date, campaign_id from activity
    union
    select event_date, campaign_id from spend
    union
    select event_date, campaign_id from attributed
),

joined as (
    select
        d.event_date,
        d.campaign_id,
        coalesce(a.impressions, 0) as impressions,
        coalesce(a.clicks, 0) as clicks,
        coalesce(a.arrival_clicks, 0) as arrival_clicks,
        coalesce(s.spend, 0) as spend,
        s.reported_impressions,
        s.reported_clicks,
        coalesce(t.attributed_orders, 0) as attributed_orders,
        coalesce(t.attributed_revenue, 0) as attributed_revenue
    from days as d
    left join activity as a on a.event_date = d.event_date and a.campaign_id = d.campaign_id
    left join spend as s on s.event_date = d.event_date and s.campaign_id = d.campaign_id
    left join attributed as t on t.event_date = d.event_date and t.campaign_id = d.campaign_id
)

select
    event_date,
    {{ date_key('event_date') }} as date_key,
    campaign_id,
    {{ surrogate_key(['campaign_id']) }} as campaign_key,
    impressions,
    clicks,
    arrival_clicks,
    {{ safe_ratio('clicks - arrival_clicks', 'impressions') }} as ctr,
    spend,
    {{ safe_ratio('spend', 'clicks') }} as cpc,
    attributed_orders,
    attributed_revenue,
    {{ safe_ratio('spend', 'attributed_orders') }} as cpa,
    {{ safe_ratio('attributed_revenue', 'spend') }} as roas,
    reported_impressions,
    reported_clicks
from joined
