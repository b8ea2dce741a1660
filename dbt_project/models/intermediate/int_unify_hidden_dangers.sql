-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- All sources' hidden dangers and risk findings in one shape, before the as-of rules
-- (docs/sources.md, shared views: registry 隐患台账, utility risk census, water 风险点 without a 巡查责任人 for the
-- as-of year, urban 积水点 未整治). found_date is the source's own discovery date (registry only; the
-- other sources carry none, so it stays NULL rather than guessing from load times).
with patrolled_risk_points as (
    select distinct duty.object_id
    from {{ ref('stg_water__flood_duty') }} as duty
    where duty.object_type = '风险点'
        and duty.duty_category = '巡查责任人'
        and (duty.duty_year is null or duty.duty_year = extract(year from {{ as_of_date() }}))
)

select
    'registry' as source_system,
    hd.danger_id,
    hd.town_code,
    hd.town_code_raw as town_raw,
    hd.village_code,
    hd.danger_level as level,
    hd.category_raw,
    hd.description,
    hd.owner_unit_raw,
    hd.found_date,
    cast(null as date) as first_seen_date,
    hd.deadline,
    hd.status,
    hd.status = '已销号' as is_closed,
    hd.closed_date,
    hd.supervising_unit_raw is not null as is_supervised,
    hd.supervising_unit_raw
from {{ ref('stg_registry__hidden_dangers') }} as hd

union all

select
    'utility' as source_system,
    rc.item_id as danger_id,
    rc.town_code,
    rc.town_raw,
    cast(null as varchar) as village_code,
    rc.risk_level as level,
    '供水安全' as category_raw,
    rc.finding as description,
    '区环境集团' as owner_unit_raw,  -- the census findings are the utility group's to rectify
    cast(null as date) as found_date,
    rc.first_seen_date,
    rc.rectify_deadline as deadline,
    rc.status,
    rc.status = '已整改' as is_closed,
    cast(null as date) as closed_date,
    false as is_supervised,
    cast(null as varchar) as supervising_unit_raw
from {{ ref('stg_utility__risk_census') }} as rc

union all

select
    'water' as source_system,
    rp.risk_point_id as danger_id,
    rp.town_code,
    rp.town_raw,
    cast(null as varchar) as village_code,
    '未分级' as level,
    rp.risk_type as category_raw,
    '风险点无巡查责任人 / risk point without a patrol officer' as description,
    '区林水局' as owner_unit_raw,  -- the roster of patrol officers is the water bureau's
    cast(null as date) as found_date,
    rp.first_seen_date,
    cast(null as date) as deadline,
    '缺巡查责任人' as status,
    false as is_closed,
    cast(null as date) as closed_date,
    false as is_supervised,
    cast(null as varchar) as supervising_unit_raw
from {{ ref('stg_water__risk_points') }} as rp
where rp.risk_point_id not in (select p.object_id from patrolled_risk_points as p)

union all

select
    'urban' as source_system,
    wp.point_id as danger_id,
    wp.town_code,
    wp.town_raw,
    cast(null as varchar) as village_code,
    '未分级' as level,
    '积水点' as category_raw,
    wp.point_name as description,
    coalesce(wp.responsible_unit_raw, '区城管局') as owner_unit_raw,
    cast(null as date) as found_date,
    wp.first_seen_date,
    cast(null as date) as deadline,
    wp.rectification_status as status,
    false as is_closed,
    cast(null as date) as closed_date,
    false as is_supervised,
    cast(null as varchar) as supervising_unit_raw
from {{ ref('stg_urban__waterlogging_points') }} as wp
where wp.rectification_status = '未整治'
