{#- The rebuild window, driven by the Dagster daily partition.

    vars: min_date (inclusive) and max_date (exclusive), 'YYYY-MM-DD'; lookback_days (default 0)
    moves the start earlier so late events of the previous day(s) are rebuilt too.
    Without min_date and max_date there is no window: every model rebuilds everything.
    The same settings can come from the environment (SHOPPER_DBT_MIN_DATE, SHOPPER_DBT_MAX_DATE,
    SHOPPER_DBT_LOOKBACK_DAYS), read only at execution: unlike --vars, changing them does not
    force dbt to re-parse the whole project (~5 s per run on a small machine).

    window_predicate(col)  SQL predicate keeping `col` (a date, or a timestamp with
                           as_timestamp=true) inside the window widened by `before` days before
                           and `after` days after; '1 = 1' without vars. Used by the
                           window_table materialization (delete) and by tests
                           (where: "window:col", macros/get_where_subquery.sql).
    window_filter(col)     the same, except under --full-refresh, which always rebuilds everything.
                           A model's first build with vars builds just the window, so a sequence
                           of day runs from an empty warehouse builds day by day.
    is_windowed()          true when a window applies to this run (vars given, no --full-refresh). -#}

{#- A window setting: the dbt var, else (only when executing, so parsing never depends on it
    and partial parsing survives) the environment variable SHOPPER_DBT_<NAME>. -#}
{% macro _window_setting(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none and execute -%}
        {%- set value = env_var('SHOPPER_DBT_' ~ (name | upper), '') | trim or none -%}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro has_window() -%}
    {{ return(_window_setting('min_date') is not none or _window_setting('max_date') is not none) }}
{%- endmacro %}

{% macro _window_date(name) -%}
    {%- set raw = _window_setting(name) -%}
    {%- if raw is none or (raw | string | trim) == '' -%}{{ return(none) }}{%- endif -%}
    {%- set parsed = modules.datetime.datetime.strptime(raw | string | trim, '%Y-%m-%d').date() -%}
    {{ return(parsed) }}
{%- endmacro %}

{#- [start, end) of the rebuild window as datetime.date objects (either may be none). -#}
{% macro window_bounds(before=0, after=0) -%}
    {%- set lo = _window_date('min_date') -%}
    {%- set hi = _window_date('max_date') -%}
    {%- set lookback = (_window_setting('lookback_days') or 0) | int -%}
    {%- if lo is not none -%}
        {%- set lo = lo - modules.datetime.timedelta(days=lookback + before) -%}
    {%- endif -%}
    {%- if hi is not none -%}
        {%- set hi = hi + modules.datetime.timedelta(days=after) -%}
    {%- endif -%}
    {%- if lo is not none and hi is not none and lo >= hi -%}
        {{ exceptions.raise_compiler_error("min_date must be before max_date, got " ~ lo ~ " / " ~ hi) }}
    {%- endif -%}
    {{ return([lo, hi]) }}
{%- endmacro %}

{% macro _window_literal(day, as_timestamp) -%}
    cast('{{ day.isoformat() }}' as {{ 'timestamp' if as_timestamp else 'date' }})
{%- endmacro %}

{% macro window_predicate(column, before=0, after=0, as_timestamp=false) -%}
    {%- set bounds = window_bounds(before, after) -%}
    {%- set parts = [] -%}
    {%- if bounds[0] is not none -%}
        {%- do parts.append(column ~ ' >= ' ~ _window_literal(bounds[0], as_timestamp)) -%}
    {%- endif -%}
    {%- if bounds[1] is not none -%}
        {%- do parts.append(column ~ ' < ' ~ _window_literal(bounds[1], as_timestamp)) -%}
    {%- endif -%}
    {%- if parts -%}({{ parts | join(' and ') }}){%- else -%}(1 = 1){%- endif -%}
{%- endmacro %}

{% macro is_windowed() -%}
    {{ return(has_window() and not flags.FULL_REFRESH) }}
{%- endmacro %}

{% macro window_filter(column, before=0, after=0, as_timestamp=false) -%}
    {%- if is_windowed() -%}
        {{ window_predicate(column, before, after, as_timestamp) }}
    {%- else -%}
        (1 = 1)
    {%- endif -%}
{%- endmacro %}
