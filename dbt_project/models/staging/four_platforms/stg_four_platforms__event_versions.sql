-- Every version of every four_platforms event (one row per eventId and updatedAt).
-- The same version can arrive twice (API page and daily export): the latest load is kept.
-- Incremental: a run reads only the raw rows of loads it has not seen yet and replaces versions
-- with the same key (delete+insert). Crosswalks are applied downstream, so a seed change needs no
-- full refresh here.
{{ config(
    materialized='incremental',
    unique_key=['event_id', 'updated_at'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with new_rows as (
    select r.*
    from {{ source('four_platforms', 'events') }} as r
    {% if is_incremental() %}
    where r._load_id not in (select distinct seen._load_id from {{ this }} as seen)
    {% endif %}
),

deduplicated as (
    select
        n.*,
        row_number() over (
            partition by n."eventId", n."updatedAt"
            order by n._loaded_at desc, n._source_file desc, n._row_number desc
        ) as _duplicate_rank
    from new_rows as n
)

select
    d."eventId" as event_id,
    d."updatedAt" as updated_at,
    {{ clean_text('d.title') }} as title,
    {{ clean_text('d.content') }} as content,
    {{ clean_text('d."source"') }} as report_source,
    {{ clean_text('d.platform') }} as platform,
    {{ clean_text('d."categoryL1"') }} as category_l1,
    {{ clean_text('d."categoryL2"') }} as category_l2,
    {{ clean_text('d."townName"') }} as town_name_raw,
    {{ clean_text('d."townCode"') }} as town_code_raw,
    {{ clean_text('d."villageName"') }} as village_name,
    {{ clean_text('d."gridCode"') }} as grid_code,
    {{ clean_text('d.address') }} as address,
    d.lng,
    d.lat,
    d."reportTime" as report_time,
    d."acceptTime" as accept_time,
    d."dispatchTime" as dispatch_time,
    d.deadline,
    d."finishTime" as finish_time,
    d.status,
    {{ clean_text('d."handleDept"') }} as handle_dept_raw,
    d.urgency,
    d.satisfaction,
    coalesce(d."isSupervised", false) as is_supervised,
    d.flows,
    {{ lineage_columns('d') }}
from deduplicated as d
where d._duplicate_rank = 1
