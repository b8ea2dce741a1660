-- One row per flow step of an event's latest version, unnested from the JSON `flows` array.
-- Incremental: the steps of events whose latest version was loaded after the last run replace
-- that event's steps (delete+insert on event_id).
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

-- DuckDB: from_json into a list of structs, then unnest; other engines need their own JSON-array
-- table function here. Fields are read as text, so a malformed value yields NULL, not an error.
with changed_events as (
    -- filter first, so only the events to (re)process have their JSON parsed
    select e.event_id, e.flows, e._loaded_at
    from {{ ref('stg_four_platforms__events') }} as e
    where e.flows is not null and json_type(e.flows) = 'ARRAY'
    {% if is_incremental() %}
        and e._loaded_at > (
            select coalesce(max(done._event_loaded_at), timestamp '1900-01-01') from {{ this }} as done
        )
    {% endif %}
),

steps as (
    select
        e.event_id,
        try_cast(step.item.seq as integer) as seq,
        {{ clean_text('step.item.action') }} as action,
        {{ clean_text('step.item."fromDept"') }} as from_dept_raw,
        {{ clean_text('step.item."toDept"') }} as to_dept_raw,
        {{ local_timestamp('step.item."time"') }} as flow_time,
        {{ clean_text('step.item.opinion') }} as opinion,
        e._loaded_at as _event_loaded_at
    from changed_events as e,
        unnest(from_json(
            e.flows,
            '[{"seq": "VARCHAR", "action": "VARCHAR", "fromDept": "VARCHAR", "toDept": "VARCHAR",
              "time": "VARCHAR", "opinion": "VARCHAR"}]'
        )) as step(item)
)

select
    s.event_id,
    row_number() over (partition by s.event_id order by s.seq, s.flow_time) as step_number,
    s.seq,
    s.action,
    s.from_dept_raw,
    s.to_dept_raw,
    s.flow_time,
    s.opinion,
    s._event_loaded_at
from steps as s
