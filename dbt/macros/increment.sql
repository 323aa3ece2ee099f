{#- Increments: a windowed run folds in what the lake added since the model's last run, instead of
    rebuilding the window's days (docs/dbt-machinery.md "Increments"). A stream's micro-batch then
    costs what it adds, not what its day already holds.

    * fct_events records, per row, the lake part file it came from (`_lake_part`) and when it was
      loaded (`_loaded_at`, the load's transaction time; loads are serial: one dbt build at a time).
      A run adds the rows of the window's parts it does not hold yet; a day of which the lake
      replaced a part (an hour rebuilt) is reloaded whole, so its rows all get the new load time.
    * Every incremental model downstream keeps, per day, the last fct_events load it has folded in
      (`shopper_increments`: model, event_date, loaded_through). Per day of the window:
        - rebuild: the model never folded this day, or fct_events reloaded the day since
          (loaded_through < the day's first load), or the day has no events any more;
        - fold: fct_events gained rows since (its last load > loaded_through): the model rebuilds
          the keys those rows touch (sessions, users, orders), or adds their aggregates;
        - unchanged: nothing new.
      Models stamp every row with the day's last load (`_loaded_at`), so a child finds the rows its
      parent changed since its own last run (`_loaded_at` > its loaded_through).
    * Without a window (no vars) or with --full-refresh, models build as before and the state of
      every day is recorded.
    The plan is read when the model executes (run_query); at parse time it is a full build. -#}

{% macro increment_state_relation() -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema, identifier='shopper_increments')) }}
{%- endmacro %}

{#- on-run-start (dbt_project.yml): the state table, before models run side by side. -#}
{% macro increment_state_create() -%}
    create table if not exists {{ increment_state_relation() }} (
        model_name {{ dbt.type_string() }},
        event_date date,
        loaded_through {{ dbt.type_timestamp() }}
    )
{%- endmacro %}

{#- Timestamps and dates as SQL literals (microseconds kept). -#}
{% macro _ts_literal(value) -%}
    cast('{{ value.isoformat(sep=" ") if value is not string else value }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro _date_literal(value) -%}
    cast('{{ value.isoformat() if value is not string else value }}' as date)
{%- endmacro %}

{#- `column in (...)` of dates, and of names (part file names: no quote in them, uuid-tagged). -#}
{% macro _in_dates(column, days) -%}
    {{ column }} in ({% for d in days %}{{ _date_literal(d) }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro _in_names(column, names) -%}
    {{ column }} in ({% for n in names %}'{{ n }}'{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#- The plan of this model's run: {'full': bool, 'rebuild': [dates], 'fold': {date: loaded_through},
    'loads': {date: last load of fct_events}}. `full` means: build as the window says (no state or
    no window), every day of the window is rebuilt. -#}
{% macro increment_plan() -%}
    {%- set events = ref('fct_events') -%}
    {%- set plan = {'full': true, 'rebuild': [], 'fold': {}, 'loads': {}} -%}
    {%- if not execute -%}{{ return(plan) }}{%- endif -%}
    {%- set state = increment_state_relation() -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set windowed = is_windowed() and existing is not none and existing.is_table -%}
    {%- set rows = run_query(
        "with loads as (select event_date, min(_loaded_at) as first_load, max(_loaded_at) as last_load"
        ~ " from " ~ events ~ " where " ~ window_predicate('event_date') ~ " group by event_date),"
        ~ " folded as (select event_date, loaded_through from " ~ state
        ~ " where model_name = '" ~ this.identifier ~ "' and " ~ window_predicate('event_date') ~ ")"
        ~ " select coalesce(l.event_date, f.event_date), l.first_load, l.last_load, f.loaded_through"
        ~ " from loads as l full outer join folded as f on f.event_date = l.event_date"
    ) -%}
    {%- for day, first_load, last_load, loaded_through in rows.rows -%}
        {%- if last_load is not none -%}{%- do plan['loads'].update({day: last_load}) -%}{%- endif -%}
        {%- if last_load is none or loaded_through is none or loaded_through < first_load -%}
            {%- do plan['rebuild'].append(day) -%}
        {%- elif last_load > loaded_through -%}
            {%- do plan['fold'].update({day: loaded_through}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do plan.update({'full': not windowed}) -%}
    {{ return(plan) }}
{%- endmacro %}

{#- Predicate on a date column: the days this run rebuilds. -#}
{% macro increment_rebuild_filter(plan, column) -%}
    {%- if plan['full'] -%}{{ window_filter(column) }}
    {%- elif plan['rebuild'] -%}{{ _in_dates(column, plan['rebuild']) }}
    {%- else -%}(1 = 0){%- endif -%}
{%- endmacro %}

{#- Same, for a timestamp column (the lake's event_hour), so the scan keeps to those days' files. -#}
{% macro increment_rebuild_hours(plan, column) -%}
    {%- if plan['full'] -%}{{ window_filter(column, as_timestamp=true) }}
    {%- elif plan['rebuild'] -%}({% for d in plan['rebuild'] -%}
        ({{ column }} >= {{ _window_literal(d, true) }} and {{ column }} < {{ _window_literal(d + modules.datetime.timedelta(days=1), true) }})
        {{- ' or ' if not loop.last }}{% endfor %})
    {%- else -%}(1 = 0){%- endif -%}
{%- endmacro %}

{#- Rows of a parent changed since this model folded their day: `date_column` in a fold day and
    `loaded_column` newer than what this model folded of that day. -#}
{% macro increment_changed(plan, date_column, loaded_column='_loaded_at') -%}
    {%- if plan['full'] or not plan['fold'] -%}(1 = 0)
    {%- else -%}({% for d, since in plan['fold'].items() -%}
        ({{ date_column }} = {{ _date_literal(d) }} and {{ loaded_column }} > {{ _ts_literal(since) }})
        {{- ' or ' if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{#- The days this run folds new rows into. -#}
{% macro increment_fold_filter(plan, column) -%}
    {%- if plan['full'] or not plan['fold'] -%}(1 = 0)
    {%- else -%}{{ _in_dates(column, plan['fold'].keys() | list) }}
    {%- endif -%}
{%- endmacro %}

{#- The lake part files fct_events loaded since this model folded their day (literal names, so the
    lake scan opens those files only). -#}
{% macro increment_parts(plan) -%}
    {%- if plan['full'] or not plan['fold'] -%}{{ return([]) }}{%- endif -%}
    {%- set rows = run_query(
        "select distinct _lake_part from " ~ ref('fct_events') ~ " where " ~ increment_changed(plan, 'event_date')
    ) -%}
    {{ return(rows.columns[0].values() | list) }}
{%- endmacro %}

{% macro increment_parts_filter(plan, column='_lake_part') -%}
    {%- set parts = increment_parts(plan) -%}
    {%- if parts -%}{{ _in_names(column, parts) }}
    {%- else -%}(1 = 0){%- endif -%}
{%- endmacro %}

{#- The events a run reads from the lake: the hours of the days it rebuilds, and on days it folds
    the part files loaded since (increment_parts_filter). -#}
{% macro increment_events_filter(plan, column='event_hour') -%}
    ({{ increment_rebuild_hours(plan, column) }}
    {%- if plan['fold'] %} or {{ increment_parts_filter(plan) }}{% endif %})
{%- endmacro %}

{#- The last fct_events load of a row's day: the `_loaded_at` stamp of a model's rows. -#}
{% macro increment_stamp(plan, date_column) -%}
    {%- if not plan['loads'] -%}cast(null as {{ dbt.type_timestamp() }})
    {%- else -%}case {{ date_column }}{% for d, at in plan['loads'].items() %} when {{ _date_literal(d) }} then {{ _ts_literal(at) }}{% endfor %} end
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of every incremental model: record the fct_events load each day of the window is now
    folded through (in the model's transaction). -#}
{% macro increment_record() -%}
    {%- set state = increment_state_relation() -%}
    delete from {{ state }} where model_name = '{{ this.identifier }}' and {{ window_filter('event_date') }};
    insert into {{ state }} (model_name, event_date, loaded_through)
    select '{{ this.identifier }}', event_date, max(_loaded_at)
    from {{ ref('fct_events') }}
    where {{ window_filter('event_date') }}
    group by event_date
{%- endmacro %}

{#- fct_events' plan: the lake part files of the window it does not hold yet ('new'), and the days
    whose parts it holds are no longer all in the lake ('reload': an hour the lake rebuilt), which it
    replaces whole. `full` as in increment_plan. -#}
{% macro lake_parts_plan() -%}
    {%- set plan = {'full': true, 'new': [], 'reload': []} -%}
    {%- if not execute -%}{{ return(plan) }}{%- endif -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- if not (is_windowed() and existing is not none and existing.is_table) -%}{{ return(plan) }}{%- endif -%}
    {%- set rows = run_query(
        "with lake as (" ~ lake_parts(window_predicate('event_hour', as_timestamp=true)) ~ "),"
        ~ " held as (select distinct event_date, _lake_part from " ~ this
        ~ " where " ~ window_predicate('event_date') ~ ")"
        ~ " select coalesce(l.event_date, h.event_date), l._lake_part, h._lake_part"
        ~ " from lake as l full outer join held as h on h._lake_part = l._lake_part"
    ) -%}
    {%- set new = [] -%}
    {%- for day, in_lake, held in rows.rows -%}
        {%- if in_lake is none -%}
            {%- if day not in plan['reload'] %}{% do plan['reload'].append(day) %}{% endif -%}
        {%- elif held is none -%}
            {%- do new.append((day, in_lake)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for day, part in new if day not in plan['reload'] -%}{%- do plan['new'].append(part) -%}{%- endfor -%}
    {%- do plan.update({'full': false}) -%}
    {{ return(plan) }}
{%- endmacro %}

{#- (event_date, _lake_part) of the lake's part files within a predicate on event_hour. On DuckDB
    the names come from the Parquet file list (the lake views), no row is read; on Postgres from the
    rows of the window (Postgres holds the lake's rows: the cost of a load grows with its day there). -#}
{% macro lake_parts(hour_predicate) -%}
    select distinct cast(event_hour as date) as event_date, _lake_part
    from {{ source('lake', 'cleaned_events') }} where {{ hour_predicate }}
{%- endmacro %}

{% macro lake_parts_filter(plan) -%}
    {%- if plan['full'] -%}{{ window_filter('event_hour', as_timestamp=true) }}
    {%- else -%}
        {%- set parts = [] -%}
        {%- if plan['reload'] %}{% do parts.append(increment_rebuild_hours({'full': false, 'rebuild': plan['reload']}, 'event_hour')) %}{% endif -%}
        {%- if plan['new'] %}{% do parts.append(_in_names('_lake_part', plan['new'])) %}{% endif -%}
        ({{ parts | join(' or ') or '1 = 0' }})
    {%- endif -%}
{%- endmacro %}

{% macro lake_parts_delete_predicate() -%}
    {%- set plan = lake_parts_plan() -%}
    {%- if plan['full'] -%}{{ return(window_predicate('event_date')) }}{%- endif -%}
    {{ return(increment_rebuild_filter({'full': false, 'rebuild': plan['reload']}, 'event_date')) }}
{%- endmacro %}
