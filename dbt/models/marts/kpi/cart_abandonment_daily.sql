{{ config(unique_key='event_date', window_column='event_date') }}
{#- Carts and where they are abandoned, per UTC day of the session's start (definitions in kpi.yml).
    Sessions are whole sessions (fct_sessions), so a cart filled before midnight and bought after
    is not abandoned; a run therefore also redoes the day before its window, whose sessions it may
    have completed. -#}
select
    session_start_date as event_date,
    {{ date_key('session_start_date') }} as date_key,
    count(*) as sessions,
    count(*) filter (where add_to_carts > 0) as carts,
    count(*) filter (where add_to_carts > 0 and purchase_lines = 0) as abandoned_carts,
    count(*) filter (where add_to_carts > 0 and purchase_lines = 0 and checkouts = 0) as abandoned_before_checkout,
    count(*) filter (where add_to_carts > 0 and purchase_lines = 0 and checkouts > 0) as abandoned_at_checkout,
    {{ safe_ratio('count(*) filter (where add_to_carts > 0 and purchase_lines = 0)',
                  'count(*) filter (where add_to_carts > 0)') }} as abandonment_rate,
    {{ safe_ratio('count(*) filter (where add_to_carts > 0 and purchase_lines = 0 and checkouts > 0)',
                  'count(*) filter (where add_to_carts > 0 and checkouts > 0)') }} as checkout_abandonment_rate
from {{ ref('fct_sessions') }}
where {{ window_filter('session_start_date', before=1) }}
group by session_start_date
