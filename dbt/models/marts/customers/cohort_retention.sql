{{ config(materialized='table', tags=['whole_history']) }}
{#- Weekly cohorts: users by the ISO week (Monday) of their first event, and the share of them
    active in each later week, up to the last week with events (definitions in customers.yml).
    Every (cohort, week) pair is present, with 0 active users where nobody came back. -#}
with users as (
    select user_id, cast({{ dbt.date_trunc('week', 'first_seen_date') }} as date) as cohort_week
    from {{ ref('dim_users') }}
),

activity as (
    select distinct user_id, cast({{ dbt.date_trunc('week', 'event_date') }} as date) as activity_week
    from {{ ref('int_user_days') }}
),

cohorts as (
    select cohort_week, count(*) as cohort_users
    from users
    group by cohort_week
),

active as (
    select u.cohort_week, cast((a.activity_week - u.cohort_week) / 7 as integer) as weeks_since, count(*) as active_users
    from activity as a
    inner join users as u on u.user_id = a.user_id
    group by u.cohort_week, cast((a.activity_week - u.cohort_week) / 7 as integer)
),

grid as (
    select c.cohort_week, c.cohort_users, cast(w.n as integer) as weeks_since
    from cohorts as c
    cross join (select max(activity_week) as last_week from activity) as l
    cross join generate_series(0, 1000) as w(n)
    where w.n <= (l.last_week - c.cohort_week) / 7
)

select
    g.cohort_week,
    g.weeks_since,
    cast({{ dbt.dateadd('day', 'g.weeks_since * 7', 'g.cohort_week') }} as date) as activity_week,
    g.cohort_users,
    coalesce(a.active_users, 0) as active_users,
    {{ safe_ratio('coalesce(a.active_users, 0)', 'g.cohort_users') }} as retention_rate
from grid as g
left join active as a on a.cohort_week = g.cohort_week and a.weeks_since = g.weeks_since
