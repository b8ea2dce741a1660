-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 事件处置 per resolved handling department and report month, as of var as_of.
-- on_time_rate: of the events with a deadline that are finished or already past their deadline,
-- the share finished by the deadline. satisfied_share: 满意 + 基本满意 among rated events.
with events as (
    select
        e.*,
        {{ event_dept('units', 'e') }} as dept,
        coalesce(units.is_resolved, false) as is_dept_resolved,
        case when e.accept_time >= e.report_time
            then {{ dbt.datediff('e.report_time', 'e.accept_time', 'second') }} / 3600.0 end as hours_to_accept,
        case when e.finish_time >= e.report_time
            then {{ dbt.datediff('e.report_time', 'e.finish_time', 'second') }} / 3600.0 end as hours_to_finish,
        {{ event_is_due('e') }} as is_due,
        {{ event_is_on_time('e') }} as is_on_time
    from {{ ref('int_events_as_of') }} as e
    {{ join_unit_crosswalk('units', 'e.handle_dept_raw') }}
)

select
    e.dept,
    {{ year_month('e.report_time') }} as month,
    cast({{ dbt.date_trunc('month', 'e.report_time') }} as date) as month_start,
    bool_or(e.is_dept_resolved) as is_dept_resolved,
    count(*) as events,
    count(e.finish_time) as finished_events,
    percentile_cont(0.5) within group (order by e.hours_to_accept) as median_hours_to_accept,
    percentile_cont(0.5) within group (order by e.hours_to_finish) as median_hours_to_finish,
    count(case when e.is_due then 1 end) as due_events,
    count(case when e.is_due and e.is_on_time then 1 end) as on_time_events,
    cast(count(case when e.is_due and e.is_on_time then 1 end) as double precision)
        / nullif(count(case when e.is_due then 1 end), 0) as on_time_rate,
    sum(e.returns) as returns,
    cast(sum(e.returns) as double precision) / count(*) as returns_per_event,
    sum(e.reassignments) as reassignments,
    cast(sum(e.reassignments) as double precision) / count(*) as reassignments_per_event,
    count(e.satisfaction) as rated_events,
    cast(count(case when e.satisfaction in ('满意', '基本满意') then 1 end) as double precision)
        / nullif(count(e.satisfaction), 0) as satisfied_share,
    count(case when e.is_supervised then 1 end) as supervised_events,
    {{ as_of_date() }} as as_of_date
from events as e
group by e.dept, {{ year_month('e.report_time') }}, cast({{ dbt.date_trunc('month', 'e.report_time') }} as date)
