-- One row per flow step of an event's latest version, unnested from the JSON `flows` array.
-- DuckDB: from_json into a list of structs, then unnest; other engines need their own JSON-array
-- table function here. Fields are read as text, so a malformed value yields NULL, not an error.
with steps as (
    select
        e.event_id,
        try_cast(step.item.seq as integer) as seq,
        {{ clean_text('step.item.action') }} as action,
        {{ clean_text('step.item."fromDept"') }} as from_dept_raw,
        {{ clean_text('step.item."toDept"') }} as to_dept_raw,
        {{ local_timestamp('step.item."time"') }} as flow_time,
        {{ clean_text('step.item.opinion') }} as opinion
    from {{ ref('stg_four_platforms__events') }} as e,
        unnest(from_json(
            e.flows,
            '[{"seq": "VARCHAR", "action": "VARCHAR", "fromDept": "VARCHAR", "toDept": "VARCHAR",
              "time": "VARCHAR", "opinion": "VARCHAR"}]'
        )) as step(item)
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
