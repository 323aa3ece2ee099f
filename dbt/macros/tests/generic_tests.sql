{#- Custom generic tests (no dbt_utils). Each returns the failing rows. -#}

{#- Every row has columns[0] >= columns[1] >= ... (e.g. funnel step counts never grow). -#}
{% test monotonic_non_increasing(model, columns) %}
select *
from {{ model }}
where
{%- for col in columns[:-1] %}
    {{ col }} < {{ columns[loop.index] }}{{ ' or' if not loop.last }}
{%- endfor %}
{% endtest %}

{#- The column is a ratio within [0, 1] (NULLs pass: an undefined ratio, e.g. no sessions). -#}
{% test ratio_between_0_and_1(model, column_name) %}
select * from {{ model }} where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}

{#- A boolean SQL expression holds on every row (NULL counts as not holding). Several row rules of a
    model go in one expression: one query instead of one per rule. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select * from {{ model }} where not coalesce(({{ expression }}), false)
{% endtest %}

{#- The column's total over the model equals the total of `field` (an expression) over `to`:
    a whole-history mart adds up to the fact it summarises. -#}
{% test sums_match(model, column_name, to, field) %}
select m.total, f.expected
from (select sum({{ column_name }}) as total from {{ model }}) as m
cross join (select sum({{ field }}) as expected from {{ to }}) as f
where coalesce(m.total, 0) <> coalesce(f.expected, 0)
{% endtest %}
