{#- Calendar from var dim_dates_start to var dim_dates_end (inclusive). date_key = yyyymmdd.
    Weeks are ISO weeks (Monday first). -#}
{%- set day_names = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] %}
{%- set month_names = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
                       'September', 'October', 'November', 'December'] %}
with spine as (
    select cast(d as date) as date_day
    from generate_series(
        cast('{{ var("dim_dates_start") }}' as timestamp),
        cast('{{ var("dim_dates_end") }}' as timestamp),
        interval '1 day'
    ) as t(d)
)

select
    {{ date_key('date_day') }} as date_key,
    date_day,
    cast(extract(year from date_day) as integer) as year,
    cast(extract(quarter from date_day) as integer) as quarter,
    cast(extract(month from date_day) as integer) as month,
    case cast(extract(month from date_day) as integer)
        {%- for name in month_names %} when {{ loop.index }} then '{{ name }}'{% endfor %}
    end as month_name,
    cast(date_trunc('month', date_day) as date) as month_start,
    cast(extract(day from date_day) as integer) as day_of_month,
    cast(extract(doy from date_day) as integer) as day_of_year,
    cast(extract(isodow from date_day) as integer) as day_of_week,
    case cast(extract(isodow from date_day) as integer)
        {%- for name in day_names %} when {{ loop.index }} then '{{ name }}'{% endfor %}
    end as day_name,
    cast(extract(isodow from date_day) as integer) in (6, 7) as is_weekend,
    cast(date_trunc('week', date_day) as date) as week_start,
    cast(extract(week from date_day) as integer) as iso_week,
    cast(extract(isoyear from date_day) as integer) as iso_year
from spine
