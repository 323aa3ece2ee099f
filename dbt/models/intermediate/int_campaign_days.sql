{{ config(materialized='window_table', window_column='event_date') }}
{#- One row per (campaign_id, event_date) with events carrying that campaign. -#}
select
    campaign_id,
    event_date,
    min(event_time) as first_event_time,
    max(event_time) as last_event_time,
    count(*) filter (where event_type = 'ad_impression') as impressions,
    count(*) filter (where event_type = 'ad_click') as clicks,
    count(*) as events
from {{ ref('stg_events') }}
where campaign_id is not null
  and {{ window_filter('event_hour', as_timestamp=true) }}
group by campaign_id, event_date
