{{ config(unique_key='event_date', window_column='event_date') }}
{#- Landed lines lost per UTC day and reason, with their share of the day's landed lines. -#}
select
    l.event_date,
    l.reason,
    l.lines,
    {{ safe_ratio('l.lines', 'd.landed_lines') }} as share_of_landed
from {{ source('lake', 'data_quality_losses_daily') }} as l
inner join {{ source('lake', 'data_quality_daily') }} as d on d.event_date = l.event_date
where {{ window_filter('l.event_date') }}
