-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 督办事项: every open item a responsible unit must act on, as of the as-of date, with its evidence and owner:
-- overdue hidden dangers (the assessed department that owns the rectification, else the town it lies in),
-- responsibility gaps (to the coordinating unit, var assessment_coordinator_unit), chain breaks (the lower lead
-- when it is an assessed department, else the coordinator), uncovered villages and teams without an
-- agreement (their town). age_days: days past the deadline where there is one (NULL otherwise: the notice
-- log counts from the day it first saw the item); escalation_level from seeds/followup_escalation.csv.
{%- set coordinator = var('assessment_coordinator_unit', '区应急管理局') %}
with units as (
    select u.unit_kind, u.unit_id, u.unit_name
    from {{ ref('assessment_units') }} as u
),

items as (
    select
        coalesce(dept.unit_kind, town.unit_kind) as unit_kind,
        coalesce(dept.unit_id, town.unit_id) as unit_id,
        coalesce(dept.unit_name, town.unit_name) as unit_name,
        'overdue_danger' as item_kind,
        'danger:' || h.register_id as item_key,
        'hidden_danger_register' as evidence_table,
        h.register_id as evidence_key,
        coalesce(h.town_name, '') || ' ' || coalesce(h.category, '') || '隐患：' || coalesce(h.description, '')
            || '（整改期限 ' || cast(h.deadline as {{ dbt.type_string() }}) || '，逾期 '
            || cast(h.overdue_days as {{ dbt.type_string() }}) || ' 天）' as detail,
        coalesce(h.owner_dept, h.owner_dept_raw) as owner,
        h.deadline,
        h.overdue_days as age_days
    from {{ ref('hidden_danger_register') }} as h
    left join units as dept on dept.unit_kind = 'department' and dept.unit_id = h.owner_dept
    left join units as town on town.unit_kind = 'town' and town.unit_id = h.town_code
    where h.is_overdue and (dept.unit_id is not null or town.unit_id is not null)

    union all
    select
        coord.unit_kind,
        coord.unit_id,
        coord.unit_name,
        'responsibility_gap',
        'gap:' || m.domain || '/' || m.task || '/' || m.level,
        'responsibility_matrix',
        m.domain || '/' || m.task || '/' || m.level,
        m.domain || ' ' || m.task || '：' || m.level || '级无牵头单位（责任缺位）',
        coord.unit_name,
        cast(null as date),
        cast(null as integer)
    from {{ ref('responsibility_matrix') }} as m
    inner join units as coord on coord.unit_kind = 'department' and coord.unit_id = '{{ coordinator }}'
    where m.has_gap

    union all
    select
        coalesce(dept.unit_kind, coord.unit_kind),
        coalesce(dept.unit_id, coord.unit_id),
        coalesce(dept.unit_name, coord.unit_name),
        'chain_break',
        'chain:' || b.domain || '/' || b.task || '/' || b.upper_unit || '→' || b.lower_unit,
        'responsibility_chain_breaks',
        b.domain || '/' || b.task || '/' || b.upper_level || '→' || b.lower_level,
        b.domain || ' ' || b.task || '：' || b.upper_level || '级 ' || b.upper_unit || ' 与 ' || b.lower_level || '级 '
            || b.lower_unit || ' 条线不一致（责任链断点），需指定衔接联络人',
        b.lower_unit,
        cast(null as date),
        cast(null as integer)
    from {{ ref('responsibility_chain_breaks') }} as b
    left join units as dept on dept.unit_kind = 'department' and dept.unit_id = b.lower_unit
    left join units as coord on coord.unit_kind = 'department' and coord.unit_id = '{{ coordinator }}'
    where dept.unit_id is not null or coord.unit_id is not null

    union all
    select
        town.unit_kind,
        town.unit_id,
        town.unit_name,
        'uncovered_village',
        'village:' || g.village_code,
        'grid_coverage',
        g.village_code,
        g.village_name || '：无在岗网格员（网格未覆盖）',
        coalesce(g.town_liaison_worker_id, town.unit_name),
        cast(null as date),
        cast(null as integer)
    from {{ ref('grid_coverage') }} as g
    inner join units as town on town.unit_kind = 'town' and town.unit_id = g.town_code
    where g.is_uncovered

    union all
    select
        town.unit_kind,
        town.unit_id,
        town.unit_name,
        'team_without_agreement',
        'team:' || t.team_id,
        'rescue_teams',
        t.team_id,
        t.team_name || '：未签订救援协议',
        t.unit,
        cast(null as date),
        cast(null as integer)
    from {{ ref('rescue_teams') }} as t
    inner join units as town on town.unit_kind = 'town' and town.unit_id = t.town_code
    where not t.has_agreement
)

select
    i.unit_kind,
    i.unit_id,
    i.unit_name,
    i.item_kind,
    i.item_key,
    i.evidence_table,
    i.evidence_key,
    i.detail,
    i.owner,
    i.deadline,
    i.age_days,
    (
        select max(esc.escalation_level)
        from {{ ref('followup_escalation') }} as esc
        where i.age_days is not null and esc.min_days <= i.age_days
    ) as escalation_level,
    {{ as_of_date() }} as as_of_date
from items as i
