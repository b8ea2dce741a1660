-- 救援力量 per town: teams by type, headcount, usable equipment held by the town's teams,
-- share of social teams, teams without qualification or without an agreement.
with teams as (
    select
        tm.town_code,
        count(*) as teams,
        count(case when tm.team_type = '综合性' then 1 end) as comprehensive_teams,
        count(case when tm.team_type = '专业' then 1 end) as professional_teams,
        count(case when tm.team_type = '社会' then 1 end) as social_teams,
        count(case when tm.team_type = '微型消防站' then 1 end) as micro_fire_stations,
        sum(tm.headcount) as headcount,
        count(case when not tm.is_qualified then 1 end) as teams_unqualified,
        count(case when not tm.has_agreement then 1 end) as teams_without_agreement
    from {{ ref('stg_registry__rescue_teams') }} as tm
    where tm.town_code is not null
    group by tm.town_code
),

usable_equipment as (
    select
        tm.town_code,
        eq.equipment_type,
        sum(eq.quantity) as quantity
    from {{ ref('stg_registry__equipment') }} as eq
    inner join {{ ref('stg_registry__rescue_teams') }} as tm on tm.team_id = eq.holder_id
    where eq.is_usable and tm.town_code is not null
    group by tm.town_code, eq.equipment_type
),

equipment as (
    select
        ue.town_code,
        {{ usable_equipment_sums('ue.equipment_type', 'ue.quantity') }},
        {{ dbt.listagg("ue.equipment_type || '×' || cast(ue.quantity as " ~ dbt.type_string() ~ ")", "'、'",
                       'order by ue.equipment_type') }} as usable_equipment_by_type
    from usable_equipment as ue
    group by ue.town_code
)

select
    t.town_code,
    t.town_name,
    coalesce(tm.teams, 0) as teams,
    coalesce(tm.comprehensive_teams, 0) as comprehensive_teams,
    coalesce(tm.professional_teams, 0) as professional_teams,
    coalesce(tm.social_teams, 0) as social_teams,
    coalesce(tm.micro_fire_stations, 0) as micro_fire_stations,
    case when coalesce(tm.teams, 0) > 0 then cast(tm.social_teams as double precision) / tm.teams end
        as social_team_share,
    coalesce(tm.headcount, 0) as headcount,
    coalesce(eq.usable_boats, 0) as usable_boats,
    coalesce(eq.usable_pumps, 0) as usable_pumps,
    coalesce(eq.usable_equipment_items, 0) as usable_equipment_items,
    eq.usable_equipment_by_type,
    coalesce(tm.teams_unqualified, 0) as teams_unqualified,
    coalesce(tm.teams_without_agreement, 0) as teams_without_agreement
from {{ ref('towns') }} as t
left join teams as tm on tm.town_code = t.town_code
left join equipment as eq on eq.town_code = t.town_code
