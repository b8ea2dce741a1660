-- 责任矩阵: domain × task × level → lead units. Every level of var responsibility_levels must have
-- a lead (has_gap otherwise); two or more different lead units at one level is a conflict.
{%- set levels = var('responsibility_levels') %}
with domain_tasks as (
    select distinct l.domain, l.task
    from {{ ref('int_responsibility_leads') }} as l
),

levels as (
    {%- for level in levels %}
    select '{{ level }}' as level, {{ loop.index }} as level_rank
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

leads as (
    select
        l.domain,
        l.task,
        l.level,
        count(distinct l.lead_unit) as lead_count,
        {{ dbt.listagg('distinct l.lead_unit', "'、'", 'order by l.lead_unit') }} as lead_units,
        {{ dbt.listagg('distinct l.line_code', "'、'", 'order by l.line_code') }} as lead_lines
    from {{ ref('int_responsibility_leads') }} as l
    where l.lead_unit is not null
    group by l.domain, l.task, l.level
)

select
    dt.domain,
    dt.task,
    lv.level,
    lv.level_rank,
    ld.lead_units,
    coalesce(ld.lead_count, 0) as lead_count,
    ld.lead_lines,
    coalesce(ld.lead_count, 0) = 0 as has_gap,
    coalesce(ld.lead_count, 0) >= 2 as has_conflict
from domain_tasks as dt
cross join levels as lv
left join leads as ld
    on ld.domain = dt.domain and ld.task = dt.task and ld.level = lv.level
