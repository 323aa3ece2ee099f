{#- Tests on big incremental models only look at the rebuilt window: a test config
    `where: "window:<column>"` becomes window_predicate(<column>) at run time (all rows when no
    min_date/max_date vars are given). Any other `where` is used as is. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if where.startswith('window:') -%}
            {%- set where = window_predicate(where[7:] | trim) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
