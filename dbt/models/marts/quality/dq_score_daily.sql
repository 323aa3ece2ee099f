{{ config(unique_key='event_date', window_column='event_date') }}
{#- The data-quality score per UTC day (definitions in quality.yml). -#}
select
    event_date,
    landed_lines,
    clean_events,
    quarantined_lines,
    duplicate_lines,
    late_events,
    {{ safe_ratio('clean_events', 'landed_lines') }} as dq_score,
    {{ safe_ratio('quarantined_lines', 'landed_lines') }} as quarantined_share,
    {{ safe_ratio('duplicate_lines', 'landed_lines') }} as duplicate_share,
    {{ safe_ratio('late_events', 'clean_events') }} as late_share,
    checks_passed,
    checks_warned,
    checks_failed,
    failed_checks,
    computed_at
from {{ source('lake', 'data_quality_daily') }}
where {{ window_filter('event_date') }}
