{{
    config(
        materialized='window_table',
        window_column='event_date',
        increment={'day_column': 'event_date', 'key': ['user_id', 'event_date'], 'source': 'int_session_days',
                   'date_column': 'event_date'},
        post_hook="{{ increment_record() }}",
    )
}}
{#- One row per (user_id, event_date) with events, from the day's session slices (a session belongs
    to one user): dau is the number of rows of a day. first_* attributes are those of the user's
    first session that day (ties on its start: smallest session_id). A run rebuilds the user-days
    whose slices changed since its last run (macros/increment.sql), or whole days. -#}
{%- set plan = increment_plan() %}
{%- set first = first_values(['referrer', 'campaign_id', 'device_type', 'country', 'has_new_user_event'],
                             ['first_event_time', 'session_id']) %}
select
    user_id,
    event_date,
    min(first_event_time) as first_event_time,
    max(last_event_time) as last_event_time,
    count(*) as sessions,
    sum(events) as events,
    bool_or(has_new_user_event) as has_new_event,
    {{ first['referrer'] }} as first_referrer,
    {{ first['campaign_id'] }} as first_campaign_id,
    {{ first['device_type'] }} as first_device_type,
    {{ first['country'] }} as first_country,
    {{ first['has_new_user_event'] }} as first_session_is_new,
    {{ increment_stamp(plan, 'event_date') }} as _loaded_at
from {{ ref('int_session_days') }}
where {{ increment_rebuild_filter(plan, 'event_date') }}
{%- if plan['fold'] %}
   or ({{ increment_fold_filter(plan, 'event_date') }} and (user_id, event_date) in (
        select user_id, event_date from {{ ref('int_session_days') }} where {{ increment_changed(plan, 'event_date') }}
   ))
{%- endif %}
group by user_id, event_date
