{#- Schemas are plainly `staging`, `intermediate` and `marts` (dbt's default would prefix the target
    schema, e.g. `main_staging`). Models without a custom schema land in the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
