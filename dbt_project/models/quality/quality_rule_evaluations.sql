-- 规则检查明细 / every row the rule-based quality checks look at, one row per (check, record, field),
-- flagged when it breaks the rule. Rules about the data live here; thresholds are vars:
--   quality_district_bbox: {min_lng, max_lng, min_lat, max_lat} — coordinates must fall inside the district;
--   quality_warehouse_pattern: regex of 物资仓库 codes an equipment holder may be instead of a team.
-- Check names: validity:<source>.<entity>, referential:<source>.<entity>, consistency:<name>.
-- owner_dept is set only when a finding belongs to more than the source's owner.
{{ config(materialized='view') }}

{%- set bbox = var('quality_district_bbox', {'min_lng': 120.04, 'max_lng': 120.73, 'min_lat': 29.83, 'max_lat': 30.40}) %}
{%- set warehouse_pattern = var('quality_warehouse_pattern', '^(CK|WH)[0-9]+$') %}

{#- (source, entity, key field, snapshot?) of every entity the rules read -#}
{%- set entities = {
    'four_platforms.events': ('four_platforms', 'events', 'eventId', false),
    'urban.cases': ('urban', 'cases', '案件编号', false),
    'urban.waterlogging_points': ('urban', 'waterlogging_points', '积水点编号', false),
    'water.reservoirs': ('water', 'reservoirs', '工程编号', false),
    'utility.outages': ('utility', 'outages', 'outage_id', false),
    'utility.supply_assets': ('utility', 'supply_assets', 'asset_id', false),
    'registry.towns': ('registry', 'towns', '区划代码', true),
    'registry.villages': ('registry', 'villages', '区划代码', true),
    'registry.grid_workers': ('registry', 'grid_workers', '工号', true),
    'registry.rescue_teams': ('registry', 'rescue_teams', '队伍编号', true),
    'registry.equipment': ('registry', 'equipment', '装备编号', true),
    'registry.plans': ('registry', 'plans', '预案编号', true),
    'registry.drills': ('registry', 'drills', '演练编号', true),
    'registry.hidden_dangers': ('registry', 'hidden_dangers', '隐患编号', true),
} %}

{#- Dates and times that record something that already happened: none may lie after the as-of day. -#}
{%- set past_fields = [
    ('four_platforms.events', ['reportTime', 'acceptTime', 'dispatchTime', 'finishTime']),
    ('urban.cases', ['上报时间', '结案时间']),
    ('urban.waterlogging_points', ['最近积水时间']),
    ('water.reservoirs', ['最近检查日期']),
    ('utility.outages', ['start_at', 'restored_at']),
    ('registry.towns', ['领导小组成立日期']),
    ('registry.grid_workers', ['上岗日期']),
    ('registry.plans', ['发布日期', '最近修订日期']),
    ('registry.drills', ['演练日期']),
    ('registry.hidden_dangers', ['发现日期', '销号日期']),
] %}

{%- set coordinate_fields = [
    ('four_platforms.events', 'lng', 'lat'),
    ('water.reservoirs', '经度', '纬度'),
    ('urban.waterlogging_points', '经度', '纬度'),
] %}

with
{% for name, (source_system, entity, key, is_snapshot) in entities.items() %}
{{ source_system }}__{{ entity }} as (
    {% if is_snapshot -%}
    {{ latest_snapshot(source(source_system, entity)) }}
    {%- else -%}
    {{ latest_per_key(source(source_system, entity), [key]) }}
    {%- endif %}
),
{% endfor %}

registry_town_codes as (
    select distinct ta.town_code
    from registry__towns as t
    {{ join_town_alias('ta', 't."区划代码"') }}
    where ta.town_code is not null
),

unit_names as (
    select {{ normalize_name('ua.alias') }} as name_key, min(ua.unit_name) as unit_name
    from {{ ref('unit_aliases') }} as ua
    group by 1
),

water_assets as (
    select
        r."工程编号" as asset_code,
        r."工程名称" as asset_name,
        ta.town_code,
        r."管理单位" as unit_raw,
        coalesce(un.unit_name, {{ normalize_name('r."管理单位"') }}) as unit_name
    from water__reservoirs as r
    {{ join_town_alias('ta', 'r."所在镇街"') }}
    left join unit_names as un on un.name_key = {{ normalize_name('r."管理单位"') }}
),

utility_assets as (
    select
        a.asset_id as asset_code,
        a.name as asset_name,
        ta.town_code,
        a.operator as unit_raw,
        coalesce(un.unit_name, {{ normalize_name('a.operator') }}) as unit_name
    from utility__supply_assets as a
    {{ join_town_alias('ta', 'a.town') }}
    left join unit_names as un on un.name_key = {{ normalize_name('a.operator') }}
),

evaluations as (
    {%- for name, fields in past_fields %}
    {%- set source_system, entity, key, is_snapshot = entities[name] %}
    {%- for field in fields %}
    select
        'validity:{{ name }}' as check_name,
        'validity' as check_kind,
        '{{ source_system }}' as source_system,
        '{{ entity }}' as entity,
        '{{ key }}' as key_field,
        cast(x.{{ adapter.quote(key) }} as varchar) as row_key,
        '{{ field }}' as field,
        cast(x.{{ adapter.quote(field) }} as varchar) as value,
        '日期晚于基准日（不应在未来）/ date after the as-of day' as reason,
        coalesce(cast(x.{{ adapter.quote(field) }} as timestamp) >= {{ as_of_end_ts() }}, false) as is_failing,
        cast(null as varchar) as owner_dept
    from {{ source_system }}__{{ entity }} as x
    union all
    {%- endfor %}
    {%- endfor %}
    {%- for name, lng, lat in coordinate_fields %}
    {%- set source_system, entity, key, is_snapshot = entities[name] %}
    select
        'validity:{{ name }}',
        'validity',
        '{{ source_system }}',
        '{{ entity }}',
        '{{ key }}',
        cast(x.{{ adapter.quote(key) }} as varchar),
        '{{ lng }}, {{ lat }}',
        cast(x.{{ adapter.quote(lng) }} as varchar) || ', ' || cast(x.{{ adapter.quote(lat) }} as varchar),
        '坐标不在萧山区范围内 / coordinates outside the district',
        coalesce(
            not (x.{{ adapter.quote(lng) }} between {{ bbox['min_lng'] }} and {{ bbox['max_lng'] }}
                 and x.{{ adapter.quote(lat) }} between {{ bbox['min_lat'] }} and {{ bbox['max_lat'] }}),
            false
        ),
        cast(null as varchar)
    from {{ source_system }}__{{ entity }} as x
    union all
    {%- endfor %}
    -- every village belongs to a town of the registry's town list
    select
        'referential:registry.villages', 'referential', 'registry', 'villages', '区划代码',
        v."区划代码", '所属镇街代码', v."所属镇街代码",
        '所属镇街不在镇街名录中 / town not in the registry town list',
        ta.town_code is null or ta.town_code not in (select rt.town_code from registry_town_codes as rt),
        cast(null as varchar)
    from registry__villages as v
    {{ join_town_alias('ta', 'v."所属镇街代码"') }}
    union all
    -- every grid worker's village is a known village
    select
        'referential:registry.grid_workers', 'referential', 'registry', 'grid_workers', '工号',
        g."工号", '村社代码', g."村社代码",
        '村社代码不在村社名录中 / village not in the registry village list',
        g."村社代码" not in (select v."区划代码" from registry__villages as v where v."区划代码" is not null),
        cast(null as varchar)
    from registry__grid_workers as g
    where g."村社代码" is not null
    union all
    -- every piece of equipment is held by a known team or a warehouse
    select
        'referential:registry.equipment', 'referential', 'registry', 'equipment', '装备编号',
        e."装备编号", '持有方编号', e."持有方编号",
        '持有方不是已登记的队伍或物资仓库 / holder is neither a registered team nor a warehouse',
        e."持有方编号" not in (select t."队伍编号" from registry__rescue_teams as t where t."队伍编号" is not null)
            and not {{ regexp_contains('e."持有方编号"', warehouse_pattern) }},
        cast(null as varchar)
    from registry__equipment as e
    union all
    -- every drill exercises a registered plan
    select
        'referential:registry.drills', 'referential', 'registry', 'drills', '演练编号',
        d."演练编号", '预案编号', d."预案编号",
        '演练对应的预案未登记 / the drill''s plan is not registered',
        d."预案编号" is null
            or d."预案编号" not in (select p."预案编号" from registry__plans as p where p."预案编号" is not null),
        cast(null as varchar)
    from registry__drills as d
    union all
    -- the same asset listed by the water bureau and the utility group names the same responsible unit
    -- (matched by name and town; a water asset the utility group does not list passes)
    select
        'consistency:water_utility.assets', 'consistency', 'water', 'reservoirs', '工程编号 / asset_id',
        w.asset_code || coalesce(' / ' || u.asset_code, ''), '管理单位 / operator',
        w.unit_raw || coalesce(' / ' || u.unit_raw, ''),
        '同一设施两部门登记的责任单位不同：林水局「' || coalesce(w.unit_raw, '（空）') || '」，环境集团「'
            || coalesce(u.unit_raw, '（空）') || '」 / the two departments name different responsible units',
        u.asset_code is not null and w.unit_name is distinct from u.unit_name,
        '区林水局、区环境集团'
    from water_assets as w
    left join utility_assets as u
        on {{ normalize_name('w.asset_name') }} = {{ normalize_name('u.asset_name') }}
        and w.town_code = u.town_code
)

select * from evaluations
