-- 救援队伍明细: one row per registered team, with its town and the usable equipment it holds, for the
-- town page. The per-town sums equal rescue_capacity (same equipment rule: status 可用, held by the team).
with usable_equipment as (
    select
        eq.holder_id as team_id,
        {{ usable_equipment_sums('eq.equipment_type', 'eq.quantity') }}
    from {{ ref('stg_registry__equipment') }} as eq
    where eq.is_usable
    group by eq.holder_id
)

select
    tm.team_id,
    tm.team_name,
    tm.team_type,
    tm.town_code,
    t.town_name,
    tm.town_raw,
    tm.headcount,
    tm.specialty,
    tm.is_qualified,
    tm.has_agreement,
    coalesce(ue.usable_boats, 0) as usable_boats,
    coalesce(ue.usable_pumps, 0) as usable_pumps,
    coalesce(ue.usable_equipment_items, 0) as usable_equipment_items,
    -- the resolved unit when the crosswalk knows the name, else the name as delivered (shown on the page)
    coalesce(units.unit_name, tm.owner_unit_raw) as unit,
    tm.owner_unit_raw as unit_raw,
    coalesce(units.is_resolved, false) as is_unit_resolved
from {{ ref('stg_registry__rescue_teams') }} as tm
left join {{ ref('towns') }} as t
    on t.town_code = tm.town_code
left join usable_equipment as ue
    on ue.team_id = tm.team_id
{{ join_unit_crosswalk('units', 'tm.owner_unit_raw') }}
