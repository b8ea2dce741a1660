-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 镇街事件明细: four_platforms events reported in the last var town_events_window_days days up to the as-of
-- date, each as it stood at the end of the as-of day (int_events_as_of), for the town page. Events whose
-- town maps to nothing are kept with town_code NULL. The department and deadline rules are macros/event_rules.sql.
with recent as (
    select e.*
    from {{ ref('int_events_as_of') }} as e
    where e.report_time >= cast({{ dbt.dateadd('day', -1 * var('town_events_window_days') + 1, as_of_date()) }}
        as timestamp)
),

events as (
    select
        e.*,
        -- event_handling's rules (macros/event_rules.sql), so a row here counts there the same way
        {{ event_dept('units', 'e') }} as dept,
        coalesce(units.is_resolved, false) as is_dept_resolved,
        {{ event_is_due('e') }} as is_due,
        {{ event_is_on_time('e') }} as is_on_time
    from recent as e
    {{ join_unit_crosswalk('units', 'e.handle_dept_raw') }}
)

select
    e.event_id,
    v.title,
    e.town_code,
    t.town_name,
    v.town_name_raw,
    v.village_name,
    v.category_l1,
    v.category_l2,
    v.report_source,
    e.report_time,
    e.accept_time,
    e.status,
    v.urgency,
    e.handle_dept_raw as handle_dept,
    e.dept,
    e.is_dept_resolved,
    e.deadline,
    e.finish_time,
    e.is_due,
    e.is_on_time,
    -- 逾期: due (finished, or open past the deadline at the end of the as-of day) but not finished by the deadline
    e.is_due and not e.is_on_time as is_overdue,
    e.is_supervised,
    e.updated_at,
    {{ as_of_date() }} as as_of_date
from events as e
-- the descriptive fields of the very version int_events_as_of picked (event_id, updated_at is unique)
inner join {{ ref('stg_four_platforms__event_versions') }} as v
    on v.event_id = e.event_id and v.updated_at = e.updated_at
left join {{ ref('towns') }} as t
    on t.town_code = e.town_code
