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

flow_counts as (
    -- DuckDB: the actions of the version's flows as a list, counted without unnesting (one pass, no join).
    select
        v.event_id,
        json_extract_string(v.flows, '$[*].action') as actions
    from versions as v
    where v.as_of_rank = 1 and v.flows is not null and json_type(v.flows) = 'ARRAY'
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
    coalesce(len(list_filter(f.actions, lambda a: a = '退回')), 0) as returns,
    coalesce(len(list_filter(f.actions, lambda a: a = '改派')), 0) as reassignments
from versions as v
left join flow_counts as f on f.event_id = v.event_id
{{ join_town_alias('by_code', 'v.town_code_raw') }}
{{ join_town_alias('by_name', 'v.town_name_raw') }}
where v.as_of_rank = 1
