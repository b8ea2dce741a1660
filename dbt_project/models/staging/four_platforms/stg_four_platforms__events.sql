-- One row per event: its latest version (last updatedAt wins; ties: the latest load), with the town
-- resolved through the crosswalk (townCode first, else townName).
-- Incremental: only events with a version loaded after the last run are recomputed (delete+insert).
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with changed_events as (
    select distinct v.event_id
    from {{ ref('stg_four_platforms__event_versions') }} as v
    {% if is_incremental() %}
    where v._loaded_at > (select coalesce(max(done._loaded_at), timestamp '1900-01-01') from {{ this }} as done)
    {% endif %}
),

ranked as (
    select
        v.*,
        row_number() over (partition by v.event_id order by v.updated_at desc, v._loaded_at desc) as version_rank,
        count(*) over (partition by v.event_id) as version_count
    from {{ ref('stg_four_platforms__event_versions') }} as v
    where v.event_id in (select c.event_id from changed_events as c)
)

select
    r.event_id,
    r.updated_at,
    r.version_count,
    r.title,
    r.content,
    r.report_source,
    r.platform,
    r.category_l1,
    r.category_l2,
    r.town_name_raw,
    r.town_code_raw,
    coalesce(by_code.town_code, by_name.town_code) as town_code,
    r.village_name,
    r.grid_code,
    r.address,
    r.lng,
    r.lat,
    r.report_time,
    r.accept_time,
    r.dispatch_time,
    r.deadline,
    r.finish_time,
    r.status,
    r.handle_dept_raw,
    r.urgency,
    r.satisfaction,
    r.is_supervised,
    r.flows,
    r._source_file,
    r._row_number,
    r._load_id,
    r._loaded_at
from ranked as r
{{ join_town_alias('by_code', 'r.town_code_raw') }}
{{ join_town_alias('by_name', 'r.town_name_raw') }}
where r.version_rank = 1
