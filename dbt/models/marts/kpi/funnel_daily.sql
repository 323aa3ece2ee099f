{{ config(unique_key='event_date', window_column='event_date') }}
{#- Session funnel per UTC day over the day slices of sessions. A session reaches a step when that
    day it has an event of that step or of a later one (deepest step), so counts never grow along
    the funnel. -#}
{%- set steps = funnel_steps() %}
with by_day as (
    select
        event_date,
        count(*) as sessions
        {%- for step in steps %},
        count(*) filter (where max_funnel_step >= {{ loop.index }}) as sessions_{{ step }}
        {%- endfor %}
    from {{ ref('int_session_days') }}
    where {{ window_filter('event_date') }}
    group by event_date
)

select
    event_date,
    {{ date_key('event_date') }} as date_key,
    sessions
    {%- for step in steps %},
    sessions_{{ step }}
    {%- endfor %}
    {%- for step in steps[1:] %},
    {{ safe_ratio('sessions_' ~ step, 'sessions_' ~ steps[loop.index0]) }} as {{ step }}_rate
    {%- endfor %},
    {{ safe_ratio('sessions_purchase', 'sessions_page_view') }} as overall_conversion_rate,
    {{ safe_ratio('sessions_purchase', 'sessions') }} as session_conversion_rate,
    {{ safe_ratio('sessions_add_to_cart - sessions_purchase', 'sessions_add_to_cart') }} as cart_abandonment_rate
from by_day
