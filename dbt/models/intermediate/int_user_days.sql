{{ config(unique_key='event_date', window_column='event_date') }}
{#- One row per (user_id, event_date) with events, from the day's session slices (a session belongs
    to one user): dau is the number of rows of a day. first_* attributes are those of the user's
    first session that day (ties on its start: smallest session_id). -#}
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
    {{ first['has_new_user_event'] }} as first_session_is_new
from {{ ref('int_session_days') }}
where {{ window_filter('event_date') }}
group by user_id, event_date
