{{ config(meta={'dagster': {'ref': {'name': 'funnel_daily'}}}) }}
{#- funnel_daily and kpi_daily agree, day by day in the rebuild window: same sessions, and the
    funnel's purchase step is kpi_daily's converted sessions. Returns the days that disagree. -#}
select f.event_date, f.sessions, k.sessions as kpi_sessions,
       f.sessions_purchase, k.converted_sessions
from {{ ref('funnel_daily') }} as f
full outer join {{ ref('kpi_daily') }} as k on k.event_date = f.event_date
where {{ window_predicate('coalesce(f.event_date, k.event_date)') }}
  and (f.event_date is null or k.event_date is null
       or f.sessions <> k.sessions
       or f.sessions_purchase <> k.converted_sessions)
