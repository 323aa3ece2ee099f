{{ config(unique_key='touch_date', window_column='touch_date') }}
{#- Campaign touches of users, the input of order attribution (definitions in intermediate.yml):
    * campaign_visit - a session (its day slice) that arrived from a campaign: its non-ad events
      carry the campaign (int_session_days.campaign_id), at the slice's first event;
    * ad_click - a click on a sponsored listing of a campaign (an ad_click event with campaign_id).
    One row per touch event; order_attribution turns them into one touch per (session, campaign). -#}
select
    user_id,
    session_id,
    campaign_id,
    'campaign_visit' as touch_type,
    first_event_time as touch_time,
    event_date as touch_date
from {{ ref('int_session_days') }}
where campaign_id is not null
  and {{ window_filter('event_date') }}

union all

select
    user_id,
    session_id,
    campaign_id,
    'ad_click' as touch_type,
    event_time as touch_time,
    event_date as touch_date
from {{ ref('stg_events') }}
where event_type = 'ad_click'
  and campaign_id is not null
  and {{ window_filter('event_hour', as_timestamp=true) }}
