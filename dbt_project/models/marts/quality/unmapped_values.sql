-- 未映射值: every town, village, unit or hazard-category value in the sources that maps to
-- nothing in the crosswalk seeds, with how many current rows carry it. Feeds the quality report.
{%- set town_fields = [
    ('four_platforms', 'events', 'townName', 'stg_four_platforms__events', 'town_name_raw'),
    ('four_platforms', 'events', 'townCode', 'stg_four_platforms__events', 'town_code_raw'),
    ('water', 'reservoirs', '所在镇街', 'stg_water__reservoirs', 'town_raw'),
    ('water', 'risk_points', '所在镇街', 'stg_water__risk_points', 'town_raw'),
    ('urban', 'waterlogging_points', '镇街', 'stg_urban__waterlogging_points', 'town_raw'),
    ('urban', 'cases', '镇街', 'stg_urban__cases', 'town_raw'),
    ('utility', 'supply_assets', 'town', 'stg_utility__supply_assets', 'town_raw'),
    ('utility', 'risk_census', 'town', 'stg_utility__risk_census', 'town_raw'),
    ('registry', 'towns', '区划代码', 'stg_registry__towns', 'town_code_raw'),
    ('registry', 'villages', '所属镇街代码', 'stg_registry__villages', 'town_code_raw'),
    ('registry', 'rescue_teams', '驻地镇街', 'stg_registry__rescue_teams', 'town_raw'),
    ('registry', 'plans', '镇街代码', 'stg_registry__plans', 'town_code_raw'),
    ('registry', 'drills', '镇街代码', 'stg_registry__drills', 'town_code_raw'),
    ('registry', 'hidden_dangers', '镇街代码', 'stg_registry__hidden_dangers', 'town_code_raw'),
] %}
{%- set village_fields = [
    ('registry', 'grid_workers', '村社代码', 'stg_registry__grid_workers', 'village_code'),
    ('registry', 'hidden_dangers', '村社代码', 'stg_registry__hidden_dangers', 'village_code'),
] %}

with outage_towns as (
    select o.outage_id, trim(town.name) as town_raw
    from {{ ref('stg_utility__outages') }} as o,
        unnest(o.towns_raw) as town(name)
),

unmapped as (
    {%- for source_system, entity, field, model, column in town_fields %}
    select
        '{{ source_system }}' as source,
        '{{ entity }}' as entity,
        '{{ field }}' as field,
        m.{{ column }} as value,
        'town' as kind
    from {{ ref(model) }} as m
    {{ join_town_alias('ta', 'm.' ~ column) }}
    where m.{{ column }} is not null and ta.town_code is null
    union all
    {%- endfor %}
    select 'utility', 'outages', 'towns', ot.town_raw, 'town'
    from outage_towns as ot
    {{ join_town_alias('ta', 'ot.town_raw') }}
    where nullif(ot.town_raw, '') is not null and ta.town_code is null
    {%- for source_system, entity, field, model, column in village_fields %}
    union all
    select '{{ source_system }}', '{{ entity }}', '{{ field }}', m.{{ column }}, 'village'
    from {{ ref(model) }} as m
    left join {{ ref('stg_registry__villages') }} as v on v.village_code = m.{{ column }}
    where m.{{ column }} is not null and v.village_code is null
    {%- endfor %}
    union all
    select 'registry', 'hidden_dangers', '类别', hd.category_raw, 'category'
    from {{ ref('stg_registry__hidden_dangers') }} as hd
    left join {{ ref('hazard_categories') }} as hc
        on {{ normalize_name('hc.alias') }} = {{ normalize_name('hd.category_raw') }}
    where hd.category_raw is not null and hc.alias is null
    union all
    select 'water', 'risk_points', '风险类型', rp.risk_type, 'category'
    from {{ ref('stg_water__risk_points') }} as rp
    left join {{ ref('hazard_categories') }} as hc
        on {{ normalize_name('hc.alias') }} = {{ normalize_name('rp.risk_type') }}
    where rp.risk_type is not null and hc.alias is null
),

unmapped_units as (
    select
        seen.source_system as source,
        seen.entity,
        seen.field,
        seen.value_raw as value,
        'unit' as kind,
        seen.row_count
    from {{ ref('int_list_unit_names_seen') }} as seen
    inner join {{ ref('int_resolve_unit_names') }} as units on units.name_key = seen.name_key
    where not units.is_resolved
),

listed as (
    select u.source, u.entity, u.field, u.value, u.kind, count(*) as row_count
    from unmapped as u
    group by u.source, u.entity, u.field, u.value, u.kind
    union all
    select uu.source, uu.entity, uu.field, uu.value, uu.kind, uu.row_count
    from unmapped_units as uu
)

-- Each source's values together, the most frequent first: what its department fixes first.
select l.source, l.entity, l.field, l.value, l.kind, l.row_count as {{ adapter.quote('rows') }}
from listed as l
order by l.source, l.row_count desc, l.entity, l.field, l.value
