{#- md5-based surrogate keys (no dbt_utils).

    surrogate_key(['a'])       -> md5 of the value as text; NULL when the value is NULL, so a
                                  missing natural key gives a missing foreign key.
    surrogate_key(['a', 'b'])  -> md5 of the values joined with '|', NULLs spelled '_null_', so
                                  (x, NULL) and (NULL, x) differ.
    Both DuckDB and Postgres have md5(text) -> 32 hex characters, so keys agree across targets. -#}
{% macro surrogate_key(columns) -%}
    {%- if columns is string -%}{%- set columns = [columns] -%}{%- endif -%}
    {%- if columns | length == 1 -%}
        md5(cast({{ columns[0] }} as varchar))
    {%- else -%}
        md5(
        {%- for col in columns -%}
            coalesce(cast({{ col }} as varchar), '_null_'){{ " || '|' || " if not loop.last }}
        {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}

{#- Integer key of a date, yyyymmdd: joins facts to dim_dates without hashing. -#}
{% macro date_key(date_expr) -%}
    cast(extract(year from {{ date_expr }}) * 10000 + extract(month from {{ date_expr }}) * 100
         + extract(day from {{ date_expr }}) as integer)
{%- endmacro %}
