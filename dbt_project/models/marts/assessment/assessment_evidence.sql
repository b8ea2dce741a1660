-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 考核依据: every row an assessment indicator counts, for each town and department, for the month of the
-- as-of date (the assessment month; its figures stand as of the as-of date, the month's last day once the
-- month has closed). An indicator's value is sum(numerator) for counts and sum(numerator) / sum(denominator)
-- for rates (assessment_scores); each row names the shared view and key it comes from.
{%- set as_of = as_of_date() %}
{%- set month = as_of_value()[:7] %}
{%- set month_start = "cast('" ~ month ~ "-01' as date)" %}
{#- Indicators towns and departments are both scored on: the same evidence rows, counted for the town they are in
    and for the department responsible. Per level: the unit column of dangers, of events and of teams, and which
    teams count (a department only when the team's unit name resolved). #}
{%- set shared_levels = [
    ('town', 'h.town_code', 'e.town_code', 't.town_code', 't.town_code is not null'),
    ('department', 'h.owner_dept', 'e.dept', 't.unit', 't.is_unit_resolved'),
] %}

with params as (
    select i.applies_to, i.indicator_code, i.parameter
    from {{ ref('assessment_indicators') }} as i
),

month_events as (
    select
        e.event_id,
        e.town_code,
        units.unit_name as dept,
        coalesce(e.returns, 0) as returns,
        {{ event_is_due('e') }} as is_due,
        {{ event_is_on_time('e') }} as is_on_time,
        e.deadline,
        e.finish_time
    from {{ ref('int_events_as_of') }} as e
    {{ join_unit_crosswalk('units', 'e.handle_dept_raw') }}
    where e.report_time >= cast({{ month_start }} as timestamp)
        and e.report_time < {{ as_of_end_ts() }}
),

overdue as (
    select h.*
    from {{ ref('hidden_danger_register') }} as h
    where h.is_overdue
),

quality_failing as (
    select e.source_system, e.entity, count(distinct e.row_key) as failing_rows
    from {{ ref('quality_rule_evaluations') }} as e
    where e.is_failing and e.owner_dept is null
    group by e.source_system, e.entity
),

quality_read as (
    select d.source_system, d.entity, sum(d.rows_read) as rows_read, sum(d.rows_quarantined) as rows_quarantined
    from {{ ref('quality_deliveries') }} as d
    group by d.source_system, d.entity
),

{%- for level, danger_unit, event_unit, team_unit, team_filter in shared_levels %}

{{ level }}_shared_rows as (
    select
        {{ danger_unit }} as unit_id,
        'overdue_dangers' as indicator_code,
        'hidden_danger_register' as evidence_table,
        h.register_id as evidence_key,
        coalesce(h.description, '') || '（期限 ' || cast(h.deadline as {{ dbt.type_string() }}) || '，逾期 '
            || cast(h.overdue_days as {{ dbt.type_string() }}) || ' 天）' as evidence_detail,
        1 as numerator,
        1 as denominator,
        true as counts_against
    from overdue as h
    where {{ danger_unit }} is not null
    union all

    select
        {{ danger_unit }},
        'long_overdue_dangers',
        'hidden_danger_register',
        h.register_id,
        coalesce(h.description, '') || '（逾期 ' || cast(h.overdue_days as {{ dbt.type_string() }}) || ' 天）',
        1, 1, true
    from overdue as h
    inner join params as p on p.applies_to = '{{ level }}' and p.indicator_code = 'long_overdue_dangers'
    where {{ danger_unit }} is not null and h.overdue_days > p.parameter
    union all

    select
        {{ event_unit }},
        'event_on_time',
        'int_events_as_of',
        e.event_id,
        case when e.is_on_time then '按期办结' when e.finish_time is null then '逾期未办结' else '超期办结' end,
        case when e.is_on_time then 1 else 0 end, 1, not e.is_on_time
    from month_events as e
    where {{ event_unit }} is not null and e.is_due
    union all

    select
        {{ event_unit }},
        'event_returns',
        'int_events_as_of',
        e.event_id,
        '退回 ' || cast(e.returns as {{ dbt.type_string() }}) || ' 次',
        e.returns, 1, e.returns > 0
    from month_events as e
    where {{ event_unit }} is not null
    union all

    select
        {{ team_unit }},
        'team_compliance',
        'rescue_teams',
        t.team_id,
        t.team_name || '：' || case when t.is_qualified then '有资质' else '无资质' end || '，'
            || case when t.has_agreement then '已签协议' else '未签协议' end,
        case when t.is_qualified and t.has_agreement then 1 else 0 end, 1,
        not (t.is_qualified and t.has_agreement)
    from {{ ref('rescue_teams') }} as t
    where {{ team_filter }}
),
{%- endfor %}

town_rows as (
    -- 六有: one row per item, 1 when the town has it
    {%- for item, label in [('leadership', '有班子'), ('mechanism', '有机制'), ('plan', '有预案'), ('team', '有队伍'),
                            ('supplies', '有物资'), ('drill', '有演练')] %}
    select
        r.town_code as unit_id,
        'readiness' as indicator_code,
        'town_readiness' as evidence_table,
        r.town_code || ':{{ item }}' as evidence_key,
        '{{ label }}：' || coalesce(r.{{ item }}_evidence, '缺') as evidence_detail,
        case when r.has_{{ item }} then 1 else 0 end as numerator,
        1 as denominator,
        not r.has_{{ item }} as counts_against
    from {{ ref('town_readiness') }} as r
    union all
    {%- endfor %}

    select
        g.town_code,
        'grid_coverage',
        'grid_coverage',
        g.village_code,
        g.village_name || case when g.is_uncovered then '：无在岗网格员' else '：网格员在岗 '
            || cast(g.workers_in_post as {{ dbt.type_string() }}) || ' 人' end,
        case when g.is_uncovered then 0 else 1 end, 1, g.is_uncovered
    from {{ ref('grid_coverage') }} as g
    where g.town_code is not null
    union all

    select
        d.town_code,
        'drills',
        'stg_registry__drills',
        d.drill_id,
        coalesce(d.drill_form, '') || '演练 ' || cast(d.drill_date as {{ dbt.type_string() }}),
        1, 1, false
    from {{ ref('stg_registry__drills') }} as d
    where d.town_code is not null
        and d.drill_date <= {{ as_of }}
        and d.drill_date >= {{ dbt.dateadd('month', -1 * var('drill_window_months'), as_of) }}
    union all

    select * from town_shared_rows
),

department_rows as (
    select
        o.owner_unit as unit_id,
        'data_quality' as indicator_code,
        'quality_deliveries' as evidence_table,
        r.source_system || '.' || r.entity as evidence_key,
        '读入 ' || cast(r.rows_read as {{ dbt.type_string() }}) || ' 行，隔离 '
            || cast(r.rows_quarantined as {{ dbt.type_string() }}) || ' 行，违反规则 '
            || cast(coalesce(f.failing_rows, 0) as {{ dbt.type_string() }}) || ' 行' as evidence_detail,
        greatest(r.rows_read - r.rows_quarantined - coalesce(f.failing_rows, 0), 0) as numerator,
        r.rows_read as denominator,
        r.rows_quarantined + coalesce(f.failing_rows, 0) > 0 as counts_against
    from quality_read as r
    inner join {{ ref('assessment_source_owners') }} as o on o.source_system = r.source_system
    left join quality_failing as f on f.source_system = r.source_system and f.entity = r.entity
    where r.rows_read > 0
    union all

    select
        b.lower_unit,
        'chain_breaks',
        'responsibility_chain_breaks',
        b.domain || '/' || b.task || '/' || b.upper_level || '→' || b.lower_level,
        b.domain || ' ' || b.task || '：上级 ' || b.upper_unit || '，本级 ' || b.lower_unit || ' 条线不一致',
        1, 1, true
    from {{ ref('responsibility_chain_breaks') }} as b
    union all

    select * from department_shared_rows
)

select
    'town' as unit_kind,
    t.unit_id,
    t.unit_name,
    '{{ month }}' as month,
    r.indicator_code,
    r.evidence_table,
    r.evidence_key,
    r.evidence_detail,
    cast(r.numerator as double precision) as numerator,
    cast(r.denominator as double precision) as denominator,
    r.counts_against,
    {{ as_of }} as as_of_date
from town_rows as r
inner join {{ ref('assessment_units') }} as t on t.unit_kind = 'town' and t.unit_id = r.unit_id
union all
select
    'department',
    d.unit_id,
    d.unit_name,
    '{{ month }}',
    r.indicator_code,
    r.evidence_table,
    r.evidence_key,
    r.evidence_detail,
    cast(r.numerator as double precision),
    cast(r.denominator as double precision),
    r.counts_against,
    {{ as_of }}
from department_rows as r
inner join {{ ref('assessment_units') }} as d on d.unit_kind = 'department' and d.unit_id = r.unit_id
