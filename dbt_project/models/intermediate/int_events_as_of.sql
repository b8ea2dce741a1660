-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
-- Each four_platforms event as it stood at the end of the as-of day: its latest version with
-- updatedAt before the next day, reported by then; later versions are ignored so a past state
-- can be rebuilt. Flow counts come from that version's flows.
--
-- Incremental, because the daily run moves the date by a day over a year of events: an event's state
-- can only have changed if one of its versions was loaded since the last build, or was updated or
-- reported between the last as-of day and this one. Those events are recomputed (delete+insert);
-- going back to an earlier date recomputes everything (the pre-hook empties the table).
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    tags=['as_of'],
    pre_hook="{% if is_incremental() %}delete from {{ this }}
        where {{ as_of_date() }} < (select max(_computed_as_of) from {{ this }}){% endif %}",
) }}

with candidate_versions as (
    select v.*
    from {{ ref('stg_four_platforms__event_versions') }} as v
    where v.updated_at < {{ as_of_end_ts() }}
        and v.report_time < {{ as_of_end_ts() }}
),

{% if is_incremental() %}
last_build as (
    select
        cast(max(done._computed_as_of) + 1 as timestamp) as end_ts,
        max(done._versions_loaded_through) as loaded_through
    from {{ this }} as done
),

changed_events as (
    select distinct v.event_id
    from candidate_versions as v
    cross join last_build as b
    where b.end_ts is null
        or v._loaded_at > b.loaded_through
        or v.updated_at >= b.end_ts
        or v.report_time >= b.end_ts
),
{% endif %}

versions as (
    select
        v.*,
        row_number() over (partition by v.event_id order by v.updated_at desc, v._loaded_at desc) as as_of_rank
    from candidate_versions as v
    {% if is_incremental() %}
    where v.event_id in (select c.event_id from changed_events as c)
    {% endif %}
),

flow_counts as (
    -- the actions of the version's flows as a list, counted without unnesting (one pass, no join)
    select
        v.event_id,
        {{ json_array_field_values('v.flows', 'action') }} as actions
    from versions as v
    where v.as_of_rank = 1 and v.flows is not null and {{ json_is_array('v.flows') }}
)

select
    v.event_id,
    v.updated_at,
    coalesce(by_code.town_code, by_name.town_code) as town_code,
    v.handle_dept_raw,
    v.report_time,
    v.accept_time,
    v.finish_time,
    v.deadline,
    v.status,
    v.satisfaction,
    v.is_supervised,
    coalesce({{ list_count_equal('f.actions', '退回') }}, 0) as returns,
    coalesce({{ list_count_equal('f.actions', '改派') }}, 0) as reassignments,
    {{ as_of_date() }} as _computed_as_of,
    (select max(seen._loaded_at) from {{ ref('stg_four_platforms__event_versions') }} as seen)
        as _versions_loaded_through
from versions as v
left join flow_counts as f on f.event_id = v.event_id
{{ join_town_alias('by_code', 'v.town_code_raw') }}
{{ join_town_alias('by_name', 'v.town_name_raw') }}
where v.as_of_rank = 1
