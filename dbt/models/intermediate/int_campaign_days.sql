{{ config(unique_key='event_date', window_column='event_date') }}
{#- One row per (campaign_id, event_date) with events carrying that campaign. Clicks are all its
    ad_click events; arrival_clicks those that brought a session from the campaign (the first event
    of the session's day slice, carrying the campaign its non-ad events carry: int_session_days).
    The others are clicks on sponsored listings shown on the site, whose impressions are the
    ad_impression events; an arrival's impression was shown elsewhere and is no event. -#}
with events as (
    select campaign_id, event_date, session_id, event_type, event_time
    from {{ ref('stg_events') }}
    where campaign_id is not null
      and {{ window_filter('event_hour', as_timestamp=true) }}
),

arrivals as (
    select c.campaign_id, c.event_date, count(*) as arrival_clicks
    from events as c
    inner join {{ ref('int_session_days') }} as s
        on s.session_id = c.session_id
        and s.event_date = c.event_date
        and s.campaign_id = c.campaign_id
        and s.first_event_time = c.event_time
    where c.event_type = 'ad_click'
      and {{ window_filter('s.event_date') }}
    group by c.campaign_id, c.event_date
),

days as (
    select
        campaign_id,
        event_date,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        count(*) filter (where event_type = 'ad_impression') as impressions,
        count(*) filter (where event_type = 'ad_click') as clicks,
        count(*) as events
    from events
    group by campaign_id, event_date
)

select
    d.campaign_id,
    d.event_date,
    d.first_event_time,
    d.last_event_time,
    d.impressions,
    d.clicks,
    coalesce(a.arrival_clicks, 0) as arrival_clicks,
    d.events
from days as d
left join arrivals as a on a.campaign_id = d.campaign_id and a.event_date = d.event_date
