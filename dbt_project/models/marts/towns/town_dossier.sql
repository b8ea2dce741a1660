-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 镇街档案: one row per town joining every shared view, for the town page (as of var as_of).
with villages as (
    select
        g.town_code,
        count(*) as villages,
        count(case when g.is_uncovered then 1 end) as uncovered_villages,
        {{ dbt.listagg("case when g.is_uncovered then g.village_name end", "'、'", 'order by g.village_name') }}
            as uncovered_village_names,
        sum(g.workers_in_post) as grid_workers_in_post
    from {{ ref('grid_coverage') }} as g
    group by g.town_code
),

dangers as (
    select
        h.town_code,
        count(case when not h.is_closed then 1 end) as open_dangers,
        count(case when not h.is_closed and h.is_major then 1 end) as open_major_dangers,
        count(case when h.is_overdue then 1 end) as overdue_dangers,
        max(h.overdue_days) as max_overdue_days
    from {{ ref('hidden_danger_register') }} as h
    where h.town_code is not null
    group by h.town_code
),

recent_events as (
    select
        e.town_code,
        count(*) as events_last_30_days,
        count(case when {{ event_is_due('e') }} then 1 end) as due_events,
        count(case when {{ event_is_on_time('e') }} then 1 end) as on_time_events
    from {{ ref('int_events_as_of') }} as e
    where e.town_code is not null
        and e.report_time >= cast({{ dbt.dateadd('day', -1 * var('dossier_event_window_days') + 1, as_of_date()) }}
            as timestamp)
    group by e.town_code
)

select
    r.town_code,
    r.town_name,
    r.town_kind,
    r.has_leadership,
    r.leadership_evidence,
    r.has_mechanism,
    r.mechanism_evidence,
    r.has_plan,
    r.plan_evidence,
    r.has_team,
    r.team_evidence,
    r.has_supplies,
    r.supplies_evidence,
    r.has_drill,
    r.drill_evidence,
    r.readiness_score,
    coalesce(v.villages, 0) as villages,
    coalesce(v.uncovered_villages, 0) as uncovered_villages,
    v.uncovered_village_names,
    coalesce(v.grid_workers_in_post, 0) as grid_workers_in_post,
    liaison.liaison_worker_id,
    liaison.liaison_name,
    coalesce(liaison.liaison_in_post, false) as liaison_in_post,
    rc.teams,
    rc.social_teams,
    rc.headcount,
    rc.usable_boats,
    rc.usable_pumps,
    rc.teams_unqualified,
    rc.teams_without_agreement,
    coalesce(d.open_dangers, 0) as open_dangers,
    coalesce(d.open_major_dangers, 0) as open_major_dangers,
    coalesce(d.overdue_dangers, 0) as overdue_dangers,
    coalesce(d.max_overdue_days, 0) as max_overdue_days,
    coalesce(ev.events_last_30_days, 0) as events_last_30_days,
    cast(ev.on_time_events as double precision) / nullif(ev.due_events, 0) as on_time_rate_last_30_days,
    {{ as_of_date() }} as as_of_date
from {{ ref('town_readiness') }} as r
left join villages as v on v.town_code = r.town_code
left join {{ ref('int_town_liaisons') }} as liaison on liaison.town_code = r.town_code
left join {{ ref('rescue_capacity') }} as rc on rc.town_code = r.town_code
left join dangers as d on d.town_code = r.town_code
left join recent_events as ev on ev.town_code = r.town_code
