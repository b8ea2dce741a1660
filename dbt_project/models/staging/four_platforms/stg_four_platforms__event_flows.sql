-- One row per flow step of an event's latest version, unnested from the JSON `flows` array.
-- Incremental: the steps of events whose latest version was loaded after the last run replace
-- that event's steps (delete+insert on event_id).
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

-- The JSON array unnested into one row per step (macros/cross_db.sql: DuckDB from_json into structs,
-- PostgreSQL jsonb_array_elements). Fields are read as text, so a malformed value yields NULL, not an error.
with changed_events as (
    -- filter first, so only the events to (re)process have their JSON parsed
    select e.event_id, e.flows, e._loaded_at
    from {{ ref('stg_four_platforms__events') }} as e
    where e.flows is not null and {{ json_is_array('e.flows') }}
    {% if is_incremental() %}
        and e._loaded_at > (
            select coalesce(max(done._event_loaded_at), timestamp '1900-01-01') from {{ this }} as done
        )
    {% endif %}
),

steps as (
    select
        e.event_id,
        {{ try_cast_integer(json_item_text('step', 'seq')) }} as seq,
        {{ clean_text(json_item_text('step', 'action')) }} as action,
        {{ clean_text(json_item_text('step', 'fromDept')) }} as from_dept_raw,
        {{ clean_text(json_item_text('step', 'toDept')) }} as to_dept_raw,
        {{ local_timestamp(json_item_text('step', 'time')) }} as flow_time,
        {{ clean_text(json_item_text('step', 'opinion')) }} as opinion,
        e._loaded_at as _event_loaded_at
    from changed_events as e,
        {{ json_array_items('e.flows', 'step', ['seq', 'action', 'fromDept', 'toDept', 'time', 'opinion']) }}
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
