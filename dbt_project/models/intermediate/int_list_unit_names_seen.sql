-- Every department / unit name as it appears in the sources, with where it appears.
-- Feeds the unit crosswalk (int_resolve_unit_names) and the unmapped-values report. Flow actors that
-- are not units (var flow_non_unit_pattern: grid workers, the public, the hotline) are left out.
{%- set unit_fields = [
    ('four_platforms', 'events', 'handleDept', 'stg_four_platforms__events', 'handle_dept_raw'),
    ('four_platforms', 'events', 'flows.fromDept', 'stg_four_platforms__event_flows', 'from_dept_raw'),
    ('four_platforms', 'events', 'flows.toDept', 'stg_four_platforms__event_flows', 'to_dept_raw'),
    ('water', 'reservoirs', '管理单位', 'stg_water__reservoirs', 'management_unit_raw'),
    ('water', 'reservoirs', '主管部门', 'stg_water__reservoirs', 'competent_dept_raw'),
    ('water', 'flood_duty', '单位', 'stg_water__flood_duty', 'unit_raw'),
    ('urban', 'waterlogging_points', '责任单位', 'stg_urban__waterlogging_points', 'responsible_unit_raw'),
    ('urban', 'cases', '派遣单位', 'stg_urban__cases', 'dispatch_unit_raw'),
    ('utility', 'supply_assets', 'operator', 'stg_utility__supply_assets', 'operator_raw'),
    ('registry', 'rescue_teams', '所属单位', 'stg_registry__rescue_teams', 'owner_unit_raw'),
    ('registry', 'plans', '编制单位', 'stg_registry__plans', 'author_unit_raw'),
    ('registry', 'hidden_dangers', '整改责任单位', 'stg_registry__hidden_dangers', 'owner_unit_raw'),
    ('registry', 'hidden_dangers', '督办单位', 'stg_registry__hidden_dangers', 'supervising_unit_raw'),
] %}

with seen as (
    {%- for source_system, entity, field, model, column in unit_fields %}
    select
        '{{ source_system }}' as source_system,
        '{{ entity }}' as entity,
        '{{ field }}' as field,
        m.{{ column }} as value_raw
    from {{ ref(model) }} as m
    where m.{{ column }} is not null
    union all
    {%- endfor %}
    select
        'registry' as source_system,
        'responsibility_list' as entity,
        '牵头单位' as field,
        leads.lead_unit_raw as value_raw
    from {{ ref('int_split_responsibility_leads') }} as leads
    where leads.lead_unit_raw is not null
),

counted as (
    select s.source_system, s.entity, s.field, s.value_raw, count(*) as row_count
    from seen as s
    group by s.source_system, s.entity, s.field, s.value_raw
)

-- The name rules run once per distinct name, not once per flow step (millions at scale).
select
    c.source_system,
    c.entity,
    c.field,
    c.value_raw,
    {{ normalize_name('c.value_raw') }} as name_key,
    c.row_count
from counted as c
where not (
    c.field in ('flows.fromDept', 'flows.toDept')
    and {{ regexp_contains('c.value_raw', var("flow_non_unit_pattern")) }}
)
