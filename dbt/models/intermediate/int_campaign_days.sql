{{
    config(
        materialized='window_table',
        window_column='event_date',
        increment={'day_column': 'event_date', 'replace_folded_days': true},
        reads_itself=true,
        post_hook="{{ increment_record() }}",
    )
}}
{#- One row per (campaign_id, event_date) with events carrying that campaign. Clicks are all its
    ad_click events; arrival_clicks those that brought a session from the campaign (the first event
    of the session's day slice, carrying the campaign its non-ad events carry: an ad_click touch at
    the time of a campaign_visit touch of the same slice and campaign, int_campaign_touches).
    The others are clicks on sponsored listings shown on the site, whose impressions are the
    ad_impression events; an arrival's impression was shown elsewhere and is no event.
    A run folds the new events' counts into the day's rows (macros/increment.sql) and counts the
    day's arrivals again from its touches: a new event can make another event its slice's first. -#}
{%- set plan = increment_plan() %}
with events as (
    select campaign_id, event_date, event_type, event_time
    from {{ ref('stg_events') }}
    where campaign_id is not null
      and {{ increment_events_filter(plan) }}
),

new_days as (
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
),
{%- if plan['fold'] %}

days as (
    -- the new events' counts with the current rows of the days folded (every campaign of them)
    select
        campaign_id,
        event_date,
        min(first_event_time) as first_event_time,
        max(last_event_time) as last_event_time,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(events) as events
    from (
        select * from new_days
        union all
        select campaign_id, event_date, first_event_time, last_event_time, impressions, clicks, events
        from {{ this }}
        where {{ increment_fold_filter(plan, 'event_date') }}
    ) as folded
    group by campaign_id, event_date
),
{%- endif %}

touches as (
    select session_id, campaign_id, touch_type, touch_time, touch_date
    from {{ ref('int_campaign_touches') }}
    where {{ increment_rebuild_filter(plan, 'touch_date') }} or {{ increment_fold_filter(plan, 'touch_date') }}
),

arrivals as (
    select c.campaign_id, c.touch_date as event_date, count(*) as arrival_clicks
    from touches as c
    inner join touches as v
        on v.session_id = c.session_id
        and v.touch_date = c.touch_date
        and v.campaign_id = c.campaign_id
        and v.touch_time = c.touch_time
    where c.touch_type = 'ad_click'
      and v.touch_type = 'campaign_visit'
    group by c.campaign_id, c.touch_date
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
from {{ 'days' if plan['fold'] else 'new_days' }} as d
left join arrivals as a on a.campaign_id = d.campaign_id and a.event_date = d.event_date
