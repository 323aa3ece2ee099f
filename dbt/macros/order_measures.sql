{#- The purchase measures of a group of order lines (rows of fct_order_items), defined once for
    every mart that reports them (definitions in kpi.yml): orders, order lines, items, revenue
    (price x quantity, before discounts), discounts and net revenue. `only` picks some of them, in
    its order; `names` renames, e.g. {'items': 'units'}. -#}
{% macro order_line_measures(only=none, names={}) -%}
    {%- set measures = {
        'orders': 'count(distinct order_id)',
        'order_lines': 'count(*)',
        'items': 'sum(quantity)',
        'revenue': 'sum(gross_amount)',
        'discount_amount': 'sum(discount_amount)',
        'net_revenue': 'sum(net_amount)',
    } -%}
    {%- set columns = [] -%}
    {%- for name in (only or measures.keys()) -%}
        {%- do columns.append(measures[name] ~ ' as ' ~ names.get(name, name)) -%}
    {%- endfor -%}
    {{ columns | join(',\n        ') }}
{%- endmacro %}
