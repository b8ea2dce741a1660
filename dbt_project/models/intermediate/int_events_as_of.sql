-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- Each four_platforms event as it stood at the end of the as-of day: its latest version with
-- updatedAt before the next day, reported by then; later versions are ignored so a past state
-- can be rebuilt. Flow counts come from that version's flows.
with versions as (
    select
        v.*,
        row_number() over (partition by v.event_id order by v.updated_at desc, v._loaded_at desc) as as_of_rank
    from {{ ref('stg_four_platforms__event_versions') }} as v
    where v.updated_at < {{ as_of_end_ts() }}
        and v.report_time < {{ as_of_end_ts() }}
),

flow_steps as (
    -- DuckDB: json_each over the version's flows array.
    select
        v.event_id,
        count(case when step.value ->> 'action' = '退回' then 1 end) as returns,
        count(case when step.value ->> 'action' = '改派' then 1 end) as reassignments
    from versions as v,
        json_each(v.flows) as step
    where v.as_of_rank = 1 and v.flows is not null and json_type(v.flows) = 'ARRAY'
    group by v.event_id
)

select
    v.event_id,
    v.updated_at,
    v.town_code,
    v.handle_dept_raw,
    v.report_time,
    v.accept_time,
    v.finish_time,
    v.deadline,
    v.status,
    v.satisfaction,
    v.is_supervised,
    coalesce(f.returns, 0) as returns,
    coalesce(f.reassignments, 0) as reassignments
from versions as v
left join flow_steps as f on f.event_id = v.event_id
where v.as_of_rank = 1
