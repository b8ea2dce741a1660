-- 责任链断点: for each domain and task, the lead's line of department changes between adjacent
-- levels of var chain_levels (省 → 市 → 区, where line departments lead). A pair (upper unit,
-- lower unit) is a break when their lines differ and no lead at the lower level continues the
-- upper unit's line. Units whose line is not recognised are left out (they are in unmapped_values).
{%- set levels = var('chain_levels') %}
with chain_levels as (
    {%- for level in levels %}
    select '{{ level }}' as level, {{ loop.index }} as level_rank
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

leads as (
    select distinct
        l.domain,
        l.task,
        l.level,
        cl.level_rank,
        l.lead_unit,
        l.line_code
    from {{ ref('int_responsibility_leads') }} as l
    inner join chain_levels as cl
        on cl.level = l.level
    where l.lead_unit is not null and l.line_code is not null
)

select
    upper_lead.domain,
    upper_lead.task,
    upper_lead.level as upper_level,
    upper_lead.lead_unit as upper_unit,
    upper_lead.line_code as upper_line,
    lower_lead.level as lower_level,
    lower_lead.lead_unit as lower_unit,
    lower_lead.line_code as lower_line
from leads as upper_lead
inner join leads as lower_lead
    on lower_lead.domain = upper_lead.domain
    and lower_lead.task = upper_lead.task
    and lower_lead.level_rank = upper_lead.level_rank + 1
where lower_lead.line_code <> upper_lead.line_code
    and not exists (
        select 1
        from leads as same_line
        where same_line.domain = upper_lead.domain
            and same_line.task = upper_lead.task
            and same_line.level_rank = upper_lead.level_rank + 1
            and same_line.line_code = upper_lead.line_code
    )
