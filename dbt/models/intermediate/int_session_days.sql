{{
    config(
        materialized='window_table',
        window_column='event_date',
        increment={'day_column': 'event_date', 'key': ['session_id', 'event_date'], 'source': 'fct_events',
                   'date_column': 'event_date'},
        reads_itself=true,
        post_hook="{{ increment_record() }}",
    )
}}
{#- One row per (session_id, event_date): the slice of a session on one UTC day. Daily KPIs and the
    funnel count these slices (a session crossing midnight is a session on both days);
    fct_sessions and int_user_days are built from them, so this is the only model that groups
    every event of the day, and it keeps to cheap aggregates:
    * user_id, referrer, device_type and country describe the visit and are constant within a
      session in the event contract; they are taken as min() so the result stays deterministic
      even if a feed broke that rule (referrer and device_type through integer codes);
    * campaign_id is the campaign the visit arrived from: the one carried by its non-ad events
      (ad events carry the campaigns of the sponsored listings shown);
    * entry_page is the page of the slice's first event (ties on event_time: PAGES order).
    Every aggregate also combines slices (sums of counts, min/max, the entry page by first time),
    so a run folds the events fct_events added since this model's last run into the slices they
    touch, instead of grouping the day again (macros/increment.sql); days rebuilt read the day. -#}
{%- set plan = increment_plan() %}
{%- set values = {'page': contract_values('page'), 'referrer': contract_values('referrer'),
                  'device_type': contract_values('device_type')} %}
with events as (
    select *
    from {{ ref('stg_events') }}
    where {{ increment_events_filter(plan) }}
),

slices as (
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
        {{ first_listed_value('page', values['page'], 'event_time') }} as entry_page,
        {{ min_listed_value('referrer', values['referrer']) }} as referrer,
        {{ min_listed_value('device_type', values['device_type']) }} as device_type,
        min(country) as country,
        min(campaign_id) filter (where event_type not in ('ad_impression', 'ad_click')) as campaign_id,
        max(case when user_type = 'new' then 1 else 0 end) = 1 as has_new_user_event
    from events
    group by session_id, event_date
)
{%- if plan['fold'] %},

folded as (
    -- the new events' slices with the current rows of the same slices, combined
    select * from slices
    union all
    select
        session_id, event_date, user_id, first_event_time, last_event_time, events, page_views,
        ad_events, add_to_carts, checkouts, purchase_lines, max_funnel_step, entry_page, referrer,
        device_type, country, campaign_id, has_new_user_event
    from {{ this }}
    where {{ increment_fold_filter(plan, 'event_date') }}
      and (session_id, event_date) in (select session_id, event_date from slices)
),

combined as (
    select
        session_id,
        event_date,
        min(user_id) as user_id,
        min(first_event_time) as first_event_time,
        max(last_event_time) as last_event_time,
        sum(events) as events,
        sum(page_views) as page_views,
        sum(ad_events) as ad_events,
        sum(add_to_carts) as add_to_carts,
        sum(checkouts) as checkouts,
        sum(purchase_lines) as purchase_lines,
        max(max_funnel_step) as max_funnel_step,
        {{ first_listed_value('entry_page', values['page'], 'first_event_time') }} as entry_page,
        {{ min_listed_value('referrer', values['referrer']) }} as referrer,
        {{ min_listed_value('device_type', values['device_type']) }} as device_type,
        min(country) as country,
        min(campaign_id) as campaign_id,
        bool_or(has_new_user_event) as has_new_user_event
    from folded
    group by session_id, event_date
)
{%- endif %}

select
    *,
    {{ increment_stamp(plan, 'event_date') }} as _loaded_at
from {{ 'combined' if plan['fold'] else 'slices' }}
