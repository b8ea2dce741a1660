-- One row per flow step of an event's latest version, unnested from the JSON `flows` array.
-- DuckDB: json_each; other engines need their own JSON-array table function here.
with steps as (
    select
        e.event_id,
        try_cast(step.value ->> 'seq' as integer) as seq,
        {{ clean_text("step.value ->> 'action'") }} as action,
        {{ clean_text("step.value ->> 'fromDept'") }} as from_dept_raw,
        {{ clean_text("step.value ->> 'toDept'") }} as to_dept_raw,
        {{ local_timestamp("step.value ->> 'time'") }} as flow_time,
        {{ clean_text("step.value ->> 'opinion'") }} as opinion
    from {{ ref('stg_four_platforms__events') }} as e,
        json_each(e.flows) as step
    where e.flows is not null and json_type(e.flows) = 'ARRAY'
)

select
    s.event_id,
    row_number() over (partition by s.event_id order by s.seq, s.flow_time) as step_number,
    s.seq,
    s.action,
    s.from_dept_raw,
    s.to_dept_raw,
    s.flow_time,
    s.opinion
from steps as s
