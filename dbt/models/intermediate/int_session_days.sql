{{ config(unique_key='event_date', window_column='event_date') }}
{#- One row per (session_id, event_date): the slice of a session on one UTC day. Daily KPIs and the
    funnel count these slices (a session crossing midnight is a session on both days);
    fct_sessions and int_user_days are built from them, so this is the only model that groups
    every event of the day, and it keeps to cheap aggregates:
    * user_id, referrer, device_type and country describe the visit and are constant within a
      session in the event contract; they are taken as min() so the result stays deterministic
      even if a feed broke that rule (referrer and device_type through integer codes);
    * campaign_id is the campaign the visit arrived from: the one carried by its non-ad events
      (ad events carry the campaigns of the sponsored listings shown);
    * entry_page is the page of the slice's first event (ties on event_time: PAGES order). -#}
select
    session_id,
    event_date,
    min(user_id) as user_id,
    min(event_time) as first_event_time,
    max(event_time) as last_event_time,
    count(*) as events,
    count(*) filter (where event_type = 'page_view') as page_views,
    count(*) filter (where event_type in ('ad_impression', 'ad_click')) as ad_events,
    count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
    count(*) filter (where event_type = 'checkout') as checkouts,
    count(*) filter (where event_type = 'purchase') as purchase_lines,
    max(funnel_step) as max_funnel_step,
    {{ first_listed_value('page', contract_values('page'), 'event_time') }} as entry_page,
    {{ min_listed_value('referrer', contract_values('referrer')) }} as referrer,
    {{ min_listed_value('device_type', contract_values('device_type')) }} as device_type,
    min(country) as country,
    min(campaign_id) filter (where event_type not in ('ad_impression', 'ad_click')) as campaign_id,
    max(case when user_type = 'new' then 1 else 0 end) = 1 as has_new_user_event
from {{ ref('stg_events') }}
where {{ window_filter('event_hour', as_timestamp=true) }}
group by session_id, event_date
