{#- One row per campaign seen on events (ad events and events of campaign sessions). -#}
select
    {{ surrogate_key(['campaign_id']) }} as campaign_key,
    campaign_id,
    min(first_event_time) as first_seen_at,
    max(last_event_time) as last_seen_at,
    count(*) as active_days,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    sum(arrival_clicks) as arrival_clicks,
    {{ safe_ratio('sum(clicks) - sum(arrival_clicks)', 'sum(impressions)') }} as click_through_rate,
    sum(events) as events
from {{ ref('int_campaign_days') }}
group by campaign_id
