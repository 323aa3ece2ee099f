{{
    config(
        materialized='window_table',
        window_column='touch_date',
        increment={'day_column': 'touch_date', 'key': ['session_id', 'touch_date'], 'source': 'int_session_days',
                   'source_key': ['session_id', 'event_date'], 'date_column': 'event_date',
                   'key_where': "touch_type = 'campaign_visit'"},
        post_hook="{{ increment_record() }}",
    )
}}
{#- Campaign touches of users, the input of order attribution (definitions in intermediate.yml):
    * campaign_visit - a session (its day slice) that arrived from a campaign: its non-ad events
      carry the campaign (int_session_days.campaign_id), at the slice's first event;
    * ad_click - a click on a sponsored listing of a campaign (an ad_click event with campaign_id).
    One row per touch event; order_attribution turns them into one touch per (session, campaign).
    A run folds in new events (macros/increment.sql): the visits of the slices they changed are
    replaced, their ad clicks added. -#}
{%- set plan = increment_plan() %}
select
    user_id,
    session_id,
    campaign_id,
    'campaign_visit' as touch_type,
    first_event_time as touch_time,
    event_date as touch_date
from {{ ref('int_session_days') }}
where campaign_id is not null
  and ({{ increment_rebuild_filter(plan, 'event_date') }} or {{ increment_changed(plan, 'event_date') }})

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
  and {{ increment_events_filter(plan) }}
