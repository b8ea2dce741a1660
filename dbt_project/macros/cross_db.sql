{#- One project, two dialects. Every construct that DuckDB and PostgreSQL spell differently is a macro here,
    dispatched on the adapter (adapter.dispatch: duckdb__ and postgres__ versions); the rest of the project is
    written in SQL both engines read, or with dbt's cross-database macros (dbt.dateadd, dbt.datediff,
    dbt.listagg, dbt.date_trunc, dbt.type_string). The DuckDB versions are the SQL the project used before. -#}

{#- PostgreSQL has no try_cast: these functions (in the target schema, created by the on-run-start hook
    hub_create_functions) return NULL where a cast would fail, as DuckDB's try_cast does. DuckDB needs none.
    They are PARALLEL UNSAFE (the default): an exception block starts a subtransaction, which a parallel query
    may not ("cannot start subtransactions during a parallel operation"), so queries using them run serially. -#}
{% macro hub_create_functions() -%}
    {{ return(adapter.dispatch('hub_create_functions')()) }}
{%- endmacro %}

{% macro default__hub_create_functions() -%}{%- endmacro %}

{% macro postgres__hub_create_functions() -%}
create schema if not exists {{ target.schema }};
create or replace function {{ target.schema }}.hub_try_timestamp(value text) returns timestamp
language plpgsql immutable as $fn$
begin
    return value::timestamp;
exception when others then
    return null;
end
$fn$;
create or replace function {{ target.schema }}.hub_try_timestamptz(value text) returns timestamptz
language plpgsql stable as $fn$
begin
    return value::timestamptz;
exception when others then
    return null;
end
$fn$;
create or replace function {{ target.schema }}.hub_try_integer(value text) returns integer
language plpgsql immutable as $fn$
begin
    return round(value::numeric)::integer;
exception when others then
    return null;
end
$fn$;
create or replace function {{ target.schema }}.hub_try_date(value text, format text) returns date
language plpgsql immutable as $fn$
begin
    return to_date(value, format);
exception when others then
    return null;
end
$fn$;
{%- endmacro %}

{#- regexp_matches(text, pattern): true when the pattern matches anywhere in the text. -#}
{% macro regexp_contains(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_contains')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regexp_contains(expr, pattern) -%}
    regexp_matches({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__regexp_contains(expr, pattern) -%}
    ({{ expr }} ~ '{{ pattern }}')
{%- endmacro %}

{#- Text to an integer, NULL when it is not a number ('1.0' is 1). -#}
{% macro try_cast_integer(expr) -%}
    {{ return(adapter.dispatch('try_cast_integer')(expr)) }}
{%- endmacro %}

{% macro default__try_cast_integer(expr) -%}
    try_cast({{ expr }} as integer)
{%- endmacro %}

{% macro postgres__try_cast_integer(expr) -%}
    {{ target.schema }}.hub_try_integer({{ expr }})
{%- endmacro %}

{#- Text to a (naive) timestamp, NULL when it does not parse. -#}
{% macro try_cast_timestamp(expr) -%}
    {{ return(adapter.dispatch('try_cast_timestamp')(expr)) }}
{%- endmacro %}

{% macro default__try_cast_timestamp(expr) -%}
    try_cast({{ expr }} as timestamp)
{%- endmacro %}

{% macro postgres__try_cast_timestamp(expr) -%}
    {{ target.schema }}.hub_try_timestamp({{ expr }})
{%- endmacro %}

{#- ISO-8601 text with an offset to the wall-clock time of time zone `tz` (a naive timestamp), NULL when it
    does not parse. DuckDB: ICU's timezone(); PostgreSQL: AT TIME ZONE. -#}
{% macro try_offset_timestamp_at(expr, tz) -%}
    {{ return(adapter.dispatch('try_offset_timestamp_at')(expr, tz)) }}
{%- endmacro %}

{% macro default__try_offset_timestamp_at(expr, tz) -%}
    timezone('{{ tz }}', try_cast({{ expr }} as timestamptz))
{%- endmacro %}

{% macro postgres__try_offset_timestamp_at(expr, tz) -%}
    ({{ target.schema }}.hub_try_timestamptz({{ expr }}) at time zone '{{ tz }}')
{%- endmacro %}

{#- The first run of 8 digits in a text read as a YYYYMMDD date, NULL when there is none or it is no date. -#}
{% macro yyyymmdd_in(expr) -%}
    {{ return(adapter.dispatch('yyyymmdd_in')(expr)) }}
{%- endmacro %}

{% macro default__yyyymmdd_in(expr) -%}
    cast(try_strptime(regexp_extract({{ expr }}, '([0-9]{8})', 1), '%Y%m%d') as date)
{%- endmacro %}

{% macro postgres__yyyymmdd_in(expr) -%}
    {#- to_date accepts out-of-range days silently in some versions: read back and compare -#}
    (select case when to_char(d.value, 'YYYYMMDD') = d.digits then d.value end
     from (select {{ target.schema }}.hub_try_date(m.digits, 'YYYYMMDD') as value, m.digits
           from (select substring({{ expr }} from '([0-9]{8})') as digits) as m) as d)
{%- endmacro %}

{#- A timestamp as 'YYYY-MM' text. -#}
{% macro year_month(expr) -%}
    {{ return(adapter.dispatch('year_month')(expr)) }}
{%- endmacro %}

{% macro default__year_month(expr) -%}
    strftime({{ expr }}, '%Y-%m')
{%- endmacro %}

{% macro postgres__year_month(expr) -%}
    to_char({{ expr }}, 'YYYY-MM')
{%- endmacro %}

{#- The median of a numeric expression (an aggregate; DOUBLE on both engines). -#}
{% macro median(expr) -%}
    {{ return(adapter.dispatch('median')(expr)) }}
{%- endmacro %}

{% macro default__median(expr) -%}
    median({{ expr }})
{%- endmacro %}

{% macro postgres__median(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{#- true when a JSON value is an array. -#}
{% macro json_is_array(expr) -%}
    {{ return(adapter.dispatch('json_is_array')(expr)) }}
{%- endmacro %}

{% macro default__json_is_array(expr) -%}
    json_type({{ expr }}) = 'ARRAY'
{%- endmacro %}

{% macro postgres__json_is_array(expr) -%}
    jsonb_typeof({{ expr }}) = 'array'
{%- endmacro %}

{#- The text values of one field of every object of a JSON array, as a list (DuckDB) or an array (PostgreSQL). -#}
{% macro json_array_field_values(expr, field) -%}
    {{ return(adapter.dispatch('json_array_field_values')(expr, field)) }}
{%- endmacro %}

{% macro default__json_array_field_values(expr, field) -%}
    json_extract_string({{ expr }}, '$[*].{{ field }}')
{%- endmacro %}

{% macro postgres__json_array_field_values(expr, field) -%}
    array(select item.value ->> '{{ field }}' from jsonb_array_elements({{ expr }}) as item(value))
{%- endmacro %}

{#- How many elements of a list (array) of text equal a value. -#}
{% macro list_count_equal(list_expr, value) -%}
    {{ return(adapter.dispatch('list_count_equal')(list_expr, value)) }}
{%- endmacro %}

{% macro default__list_count_equal(list_expr, value) -%}
    len(list_filter({{ list_expr }}, lambda a: a = '{{ value }}'))
{%- endmacro %}

{% macro postgres__list_count_equal(list_expr, value) -%}
    cardinality(array_positions({{ list_expr }}, '{{ value }}'::text))
{%- endmacro %}

{#- A FROM item: one row per element of a JSON array, as `alias(item)`; read fields with json_item_text.
    DuckDB parses the array into structs of the given (text) fields, so a malformed value is NULL, not an error. -#}
{% macro json_array_items(expr, alias, fields) -%}
    {{ return(adapter.dispatch('json_array_items')(expr, alias, fields)) }}
{%- endmacro %}

{% macro default__json_array_items(expr, alias, fields) -%}
    {%- set struct = [] -%}
    {%- for f in fields -%}{%- do struct.append('"' ~ f ~ '": "VARCHAR"') -%}{%- endfor -%}
    unnest(from_json({{ expr }}, '[{{ "{" ~ struct | join(", ") ~ "}" }}]')) as {{ alias }}(item)
{%- endmacro %}

{% macro postgres__json_array_items(expr, alias, fields) -%}
    jsonb_array_elements({{ expr }}) as {{ alias }}(item)
{%- endmacro %}

{#- A field of a json_array_items row as text. -#}
{% macro json_item_text(alias, field) -%}
    {{ return(adapter.dispatch('json_item_text')(alias, field)) }}
{%- endmacro %}

{% macro default__json_item_text(alias, field) -%}
    {{ alias }}.item."{{ field }}"
{%- endmacro %}

{% macro postgres__json_item_text(alias, field) -%}
    (case when jsonb_typeof({{ alias }}.item) = 'object' then {{ alias }}.item ->> '{{ field }}' end)
{%- endmacro %}

{#- dbt.safe_cast on PostgreSQL (used by dbt for unit-test fixtures, e.g. a seed given as a unit-test input):
    an empty cell is NULL for non-text types, as DuckDB's try_cast makes it, instead of a cast error. -#}
{% macro postgres__safe_cast(field, type) -%}
    {%- set t = type | string | lower -%}
    {%- if 'char' in t or 'text' in t -%}
    cast({{ field }} as {{ type }})
    {%- else -%}
    cast(nullif(cast({{ field }} as text), '') as {{ type }})
    {%- endif -%}
{%- endmacro %}
