{#- The date every rule is computed as of: var `as_of` (YYYY-MM-DD), else the date the hub recorded for this
    run in table <target schema>.hub_run_as_of, else env HUB_AS_OF, else today in Asia/Shanghai. Rendered once
    per model as a literal, so a past state can be rebuilt and tests are repeatable.
    The hub records the date in a table, read only at execution: a date in --vars (or in an env var read while
    parsing) would change every day and make dbt parse the whole project again, ~7 s of every daily run. -#}
{% macro as_of_value() -%}
    {%- set given = var('as_of', '') -%}
    {%- if execute and (given is none or (given | string | trim) == '') -%}
        {%- set given = recorded_as_of() -%}
    {%- endif -%}
    {%- if execute and (given is none or (given | string | trim) == '') -%}
        {%- set given = env_var('HUB_AS_OF', '') -%}
    {%- endif -%}
    {%- if given is none or (given | string | trim) == '' -%}
        {{- modules.datetime.datetime.now(modules.pytz.timezone(var('timezone'))).strftime('%Y-%m-%d') -}}
    {%- else -%}
        {%- set text = given | string | trim -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
            {{ exceptions.raise_compiler_error("变量 as_of 必须是 YYYY-MM-DD 格式 / var as_of must be YYYY-MM-DD, got '" ~ text ~ "'") }}
        {%- endif -%}
        {{- text -}}
    {%- endif -%}
{%- endmacro %}

{#- The as-of date the hub's dbt asset wrote just before starting dbt (orchestration/dbt_assets.py), or ''. -#}
{% macro recorded_as_of() -%}
    {%- set relation = adapter.get_relation(database=target.database, schema=target.schema,
                                            identifier='hub_run_as_of') -%}
    {%- if relation is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set rows = run_query('select cast(max(as_of_date) as varchar) from ' ~ relation).rows -%}
    {{ return(rows[0][0] if rows and rows[0][0] else '') }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_value() }}' as date)
{%- endmacro %}

{#- First instant after the as-of day (local time): a timestamp t happened "by the as-of date" when t < this. -#}
{% macro as_of_end_ts() -%}
    cast({{ dbt.dateadd('day', 1, as_of_date()) }} as timestamp)
{%- endmacro %}

{#- A jinja list var as a SQL list of string literals: ('a', 'b'). -#}
{% macro sql_list(values) -%}
    ({%- for v in values -%}'{{ v | replace("'", "''") }}'{%- if not loop.last -%}, {% endif -%}{%- endfor -%})
{%- endmacro %}
