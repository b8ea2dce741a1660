{#- 考核月表 / one row per assessed unit of `unit_kind` for the assessment month, from assessment_scores:
    the weighted total (Σ weight × score ÷ Σ weight over the indicators that have a value), the grade of
    seeds/assessment_grades.csv, the rank among the units of the kind, and each indicator's value and score. -#}
{% macro assessment_monthly(unit_kind, indicators) -%}
with scores as (
    select s.*
    from {{ ref('assessment_scores') }} as s
    where s.unit_kind = '{{ unit_kind }}'
),

totals as (
    select
        s.unit_id,
        min(s.unit_name) as unit_name,
        min(s.month) as month,
        {#- summed as exact decimals: a sum of doubles changes in its last digit with the order the engine's
            threads add them, and the total decides the grade and the rank -#}
        cast(
            sum(cast(s.weight * s.score as decimal(38, 10)))
            / nullif(sum(case when s.score is not null then cast(s.weight as decimal(38, 10)) end), 0)
            as double precision
        ) as total_score,
        count(s.score) as indicators_scored,
        sum(s.rows_against) as rows_against,
        {%- for code in indicators %}
        max(case when s.indicator_code = '{{ code }}' then s.value end) as {{ code }}_value,
        max(case when s.indicator_code = '{{ code }}' then s.score end) as {{ code }}_score,
        {%- endfor %}
        min(s.as_of_date) as as_of_date
    from scores as s
    group by s.unit_id
),

graded as (
    select
        t.*,
        g.grade,
        g.grade_name,
        row_number() over (partition by t.unit_id order by g.min_score desc) as grade_pick
    from totals as t
    left join {{ ref('assessment_grades') }} as g on t.total_score >= g.min_score
)

select
    g.month,
    g.unit_id as {{ 'town_code' if unit_kind == 'town' else 'dept' }},
    g.unit_name as {{ 'town_name' if unit_kind == 'town' else 'dept_name' }},
    g.total_score,
    g.grade,
    g.grade_name,
    rank() over (order by g.total_score desc nulls last) as score_rank,
    g.indicators_scored,
    g.rows_against,
    {%- for code in indicators %}
    g.{{ code }}_value,
    g.{{ code }}_score,
    {%- endfor %}
    g.as_of_date,
    g.as_of_date = cast({{ dbt.last_day('g.as_of_date', 'month') }} as date) as is_month_closed
from graded as g
where g.grade_pick = 1
{%- endmacro %}

{#- 考核历史 / the kept months of `model` (table `identifier` of schema var assessment_kept_schema, written by
    the monthly Dagster asset, orchestration/assessment/) with the live build's month: a kept month is shown
    as kept unless the live build computed the same month as of a later date (the current month). Columns
    are the live model's; a column the kept table lacks (added since) reads NULL of the live column's type. -#}
{% macro assessment_history(model, identifier) -%}
{%- set live = ref(model) %}
{%- set kept = adapter.get_relation(database=target.database, schema=var('assessment_kept_schema', 'assessment_kept'),
                                    identifier=identifier) if execute else none %}
{%- set live_columns = adapter.get_columns_in_relation(live) if execute else [] %}
{%- set columns = live_columns | map(attribute='name') | list %}
{%- if kept is none or not columns %}
select l.* from {{ live }} as l
{%- else %}
{%- set kept_columns = adapter.get_columns_in_relation(kept) | map(attribute='name') | map('lower') | list %}
with kept_rows as (
    select
        {%- for column in live_columns %}
        {#- a typed NULL: PostgreSQL will not unite an untyped one with the live column's numbers #}
        {% if column.name | lower in kept_columns %}k.{{ adapter.quote(column.name) }}{% else %}cast(null as {{ column.data_type }}){% endif %} as {{ adapter.quote(column.name) }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ kept }} as k
    where not exists (
        select 1 from {{ live }} as l where l.month = k.month and l.as_of_date > k.as_of_date
    )
)

select * from kept_rows
union all
select
    {%- for column in columns %}
    l.{{ adapter.quote(column) }}{% if not loop.last %},{% endif %}
    {%- endfor %}
from {{ live }} as l
where not exists (select 1 from kept_rows as k where k.month = l.month)
{%- endif %}
{%- endmacro %}
