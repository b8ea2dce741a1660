-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 六有 readiness per town as of var as_of: each item yes/no with the evidence row, score 0–6.
{%- set as_of = as_of_date() %}
with plans as (
    select
        p.town_code,
        p.plan_id || ' ' || p.plan_name || '（' || p.plan_category || '，修订/发布 '
            || cast(p.effective_date as {{ dbt.type_string() }}) || '）' as evidence,
        row_number() over (partition by p.town_code order by p.effective_date desc, p.plan_id) as pick
    from {{ ref('stg_registry__plans') }} as p
    where p.town_code is not null
        and p.plan_category in {{ sql_list(var('readiness_plan_categories')) }}
        and {{ plan_is_current('p.effective_date') }}
),

teams as (
    select
        tm.town_code,
        tm.team_id || ' ' || tm.team_name || '（' || cast(tm.headcount as {{ dbt.type_string() }}) || '人）'
            as evidence,
        row_number() over (partition by tm.town_code order by tm.headcount desc, tm.team_id) as pick
    from {{ ref('stg_registry__rescue_teams') }} as tm
    where tm.town_code is not null and tm.headcount >= {{ var('team_min_headcount') }}
),

supplies as (
    select
        tm.town_code,
        eq.equipment_id || ' ' || eq.equipment_type || '×' || cast(eq.quantity as {{ dbt.type_string() }})
            || '（' || tm.team_name || '）' as evidence,
        row_number() over (partition by tm.town_code order by eq.quantity desc, eq.equipment_id) as pick
    from {{ ref('stg_registry__equipment') }} as eq
    inner join {{ ref('stg_registry__rescue_teams') }} as tm
        on tm.team_id = eq.holder_id
    where tm.town_code is not null
        and eq.is_usable
        and eq.quantity > 0
        and eq.equipment_type in {{ sql_list(var('readiness_supply_types')) }}
),

drills as (
    select
        d.town_code,
        d.drill_id || '（' || coalesce(d.drill_form, '') || '演练 ' || cast(d.drill_date as {{ dbt.type_string() }})
            || '）' as evidence,
        row_number() over (partition by d.town_code order by d.drill_date desc, d.drill_id) as pick
    from {{ ref('stg_registry__drills') }} as d
    where d.town_code is not null
        and d.drill_date <= {{ as_of }}
        and d.drill_date >= {{ dbt.dateadd('month', -1 * var('drill_window_months'), as_of) }}
),

items as (
    select
        t.town_code,
        t.town_name,
        t.town_kind,
        coalesce(t.leadership_group_date <= {{ as_of }}, false) as has_leadership,
        case when t.leadership_group_date <= {{ as_of }}
            then '领导小组成立日期 ' || cast(t.leadership_group_date as {{ dbt.type_string() }}) end
            as leadership_evidence,
        t.has_station_plaque and coalesce(liaison.liaison_in_post, false) as has_mechanism,
        case when t.has_station_plaque and liaison.liaison_in_post
            then '应急管理站已挂牌；联络员 ' || liaison.liaison_worker_id || ' ' || coalesce(liaison.liaison_name, '')
                || ' 在岗' end as mechanism_evidence,
        plans.evidence is not null as has_plan,
        plans.evidence as plan_evidence,
        teams.evidence is not null as has_team,
        teams.evidence as team_evidence,
        supplies.evidence is not null as has_supplies,
        supplies.evidence as supplies_evidence,
        drills.evidence is not null as has_drill,
        drills.evidence as drill_evidence
    from {{ ref('dim_towns') }} as t
    left join {{ ref('int_town_liaisons') }} as liaison on liaison.town_code = t.town_code
    left join plans on plans.town_code = t.town_code and plans.pick = 1
    left join teams on teams.town_code = t.town_code and teams.pick = 1
    left join supplies on supplies.town_code = t.town_code and supplies.pick = 1
    left join drills on drills.town_code = t.town_code and drills.pick = 1
)

select
    i.*,
    cast(i.has_leadership as integer) + cast(i.has_mechanism as integer) + cast(i.has_plan as integer)
        + cast(i.has_team as integer) + cast(i.has_supplies as integer) + cast(i.has_drill as integer)
        as readiness_score,
    {{ as_of }} as as_of_date
from items as i
