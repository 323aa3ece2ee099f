{#- Small adapter-dispatched helpers so the models run unchanged on DuckDB (local) and Postgres (prod). -#}

{#- Value of `value` on the row with the smallest `order_by` tuple (NULL values are kept, so this is
    "the attribute of the first event"). `order_by` is a list of columns or expressions; the last
    should break ties (e.g. ['event_time', 'event_id']) so the result never depends on scan order.
    `filter` restricts the rows; `ignore_nulls=true` takes the first non-NULL value instead.
    last_by is the same with the largest tuple. -#}
{% macro first_by(value, order_by, filter=none, ignore_nulls=false) -%}
    {{ return(adapter.dispatch('first_by', 'shopper')(value, order_by, filter, ignore_nulls, false)) }}
{%- endmacro %}

{% macro last_by(value, order_by, filter=none, ignore_nulls=false) -%}
    {{ return(adapter.dispatch('first_by', 'shopper')(value, order_by, filter, ignore_nulls, true)) }}
{%- endmacro %}

{#- DuckDB: min()/max() of a struct whose leading fields are the ordering columns - one plain
    aggregate, several times cheaper than arg_min with a struct key. -#}
{% macro duckdb__first_by(value, order_by, filter, ignore_nulls, descending) -%}
    {%- set conds = [] -%}
    {%- if filter %}{% do conds.append('(' ~ filter ~ ')') %}{% endif -%}
    {%- if ignore_nulls %}{% do conds.append('(' ~ value ~ ') is not null') %}{% endif -%}
    ({{ 'max' if descending else 'min' }}(struct_pack(
    {%- for col in order_by %}o{{ loop.index0 }} := {{ col }}, {% endfor -%}
    v := {{ value }}))
    {%- if conds %} filter (where {{ conds | join(' and ') }}){% endif %}).v
{%- endmacro %}

{#- Postgres and others: the first element of an ordered array_agg. -#}
{% macro default__first_by(value, order_by, filter, ignore_nulls, descending) -%}
    {%- set dir = ' desc' if descending else '' -%}
    {%- set conds = [] -%}
    {%- if filter %}{% do conds.append('(' ~ filter ~ ')') %}{% endif -%}
    {%- if ignore_nulls %}{% do conds.append('(' ~ value ~ ') is not null') %}{% endif -%}
    (array_agg({{ value }} order by
    {%- for col in order_by %} {{ col }}{{ dir }}{{ ',' if not loop.last }}{% endfor -%}
    ){% if conds %} filter (where {{ conds | join(' and ') }}){% endif %})[1]
{%- endmacro %}

{#- Several columns of the same first row: returns a dict column -> aggregate expression. On DuckDB
    all expressions share one min() over a struct (ordering columns first, then the values), which
    DuckDB computes once; elsewhere each is a first_by. -#}
{% macro first_values(columns, order_by) -%}
    {{ return(adapter.dispatch('first_values', 'shopper')(columns, order_by)) }}
{%- endmacro %}

{% macro default__first_values(columns, order_by) -%}
    {%- set out = {} -%}
    {%- for col in columns -%}{%- do out.update({col: first_by(col, order_by)}) -%}{%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{% macro duckdb__first_values(columns, order_by) -%}
    {%- set fields = [] -%}
    {%- for col in order_by %}{% do fields.append('o' ~ loop.index0 ~ ' := ' ~ col) %}{% endfor -%}
    {%- for col in columns %}{% do fields.append('v' ~ loop.index0 ~ ' := ' ~ col) %}{% endfor -%}
    {%- set packed = 'min(struct_pack(' ~ fields | join(', ') ~ '))' -%}
    {%- set out = {} -%}
    {%- for col in columns -%}{%- do out.update({col: '(' ~ packed ~ ').v' ~ loop.index0}) -%}{%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{#- Seconds between two timestamps, fractional, as double precision. -#}
{% macro seconds_between(start_ts, end_ts) -%}
    cast(extract(epoch from ({{ end_ts }} - {{ start_ts }})) as double precision)
{%- endmacro %}

{#- a / b as double precision, NULL when b is 0 or NULL (no integer division on Postgres). -#}
{% macro safe_ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double precision) / nullif(cast({{ denominator }} as double precision), 0))
{%- endmacro %}

{#- Funnel step index of an event type, following shopper_assets.contract.events.FUNNEL_STEPS. -#}
{% macro funnel_steps() -%}
    {{ return(['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase']) }}
{%- endmacro %}

{% macro funnel_step_index(event_type_column) -%}
    case {{ event_type_column }}
    {%- for step in funnel_steps() %} when '{{ step }}' then {{ loop.index }}{% endfor %} else 0 end
{%- endmacro %}

{% macro funnel_step_name(step_index_column) -%}
    case {{ step_index_column }}
    {%- for step in funnel_steps() %} when {{ loop.index }} then '{{ step }}'{% endfor %} end
{%- endmacro %}

{#- Price band label of a unit price; bands come from var('price_bands'). -#}
{% macro price_band(price_column) -%}
    {%- set bands = var('price_bands') -%}
    case when {{ price_column }} is null then null
    {%- for upper in bands %}
        when {{ price_column }} < {{ upper }} then '{{ "%s-%s" % (bands[loop.index0 - 1] if not loop.first else 0, upper) }}'
    {%- endfor %}
        else '{{ bands[-1] }}+' end
{%- endmacro %}

{#- Microseconds since the epoch of a timestamp, as bigint. -#}
{% macro epoch_us(ts) -%}
    {{ return(adapter.dispatch('epoch_us', 'shopper')(ts)) }}
{%- endmacro %}

{% macro duckdb__epoch_us(ts) -%}
    epoch_us({{ ts }})
{%- endmacro %}

{% macro default__epoch_us(ts) -%}
    cast(round(extract(epoch from {{ ts }}) * 1000000) as bigint)
{%- endmacro %}

{#- Value of a low-cardinality column on the row with the smallest `time_col`, computed as one
    integer min() instead of an arg_min over strings (about 10x cheaper on big event scans).
    `values` lists the possible values; the row's code (its index in `values`) is packed below
    the timestamp, so ties on time go to the value listed first, deterministically. Values not in
    the list (and NULL) are coded last and come back as NULL. -#}
{% macro first_listed_value(column, values, time_col) -%}
    {%- set n = values | length + 1 -%}
    case (min({{ epoch_us(time_col) }} * {{ n }} + case {{ column }}
        {%- for v in values %} when '{{ v }}' then {{ loop.index0 }}{% endfor %} else {{ n - 1 }} end) % {{ n }})
        {%- for v in values %} when {{ loop.index0 }} then '{{ v }}'{% endfor %}
    end
{%- endmacro %}

{#- Accepted values of the event contract (shopper_assets/contract/events.py; a pytest keeps
    them in sync). -#}
{% macro contract_values(field) -%}
    {%- set values = {
        'page': ['home', 'search', 'category', 'product', 'cart', 'checkout', 'confirmation'],
        'device_type': ['mobile', 'desktop', 'tablet'],
        'referrer': ['direct', 'search', 'social', 'email', 'ads', 'affiliate'],
        'user_type': ['new', 'returning'],
    } -%}
    {{ return(values[field]) }}
{%- endmacro %}

{#- min() of a low-cardinality column as an integer code, decoded back: the same result as
    min(column) restricted to `values` (in the listed order), several times cheaper than a string
    min() on a big group by. Values outside the list count as NULL. -#}
{% macro min_listed_value(column, values) -%}
    case min(case {{ column }}{% for v in values %} when '{{ v }}' then {{ loop.index0 }}{% endfor %} end)
        {%- for v in values %} when {{ loop.index0 }} then '{{ v }}'{% endfor %}
    end
{%- endmacro %}
