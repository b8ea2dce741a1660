-- Every version of every four_platforms event (one row per eventId and updatedAt).
-- The same version can arrive twice (API page and daily export): the latest load is kept.
with deduplicated as (
    select
        r.*,
        row_number() over (
            partition by r."eventId", r."updatedAt"
            order by r._loaded_at desc, r._source_file desc, r._row_number desc
        ) as _duplicate_rank
    from {{ source('four_platforms', 'events') }} as r
)

select
    d."eventId" as event_id,
    d."updatedAt" as updated_at,
    row_number() over (partition by d."eventId" order by d."updatedAt", d._loaded_at) as version_number,
    row_number() over (partition by d."eventId" order by d."updatedAt" desc, d._loaded_at desc) = 1 as is_latest,
    {{ clean_text('d.title') }} as title,
    {{ clean_text('d.content') }} as content,
    {{ clean_text('d."source"') }} as report_source,
    {{ clean_text('d.platform') }} as platform,
    {{ clean_text('d."categoryL1"') }} as category_l1,
    {{ clean_text('d."categoryL2"') }} as category_l2,
    {{ clean_text('d."townName"') }} as town_name_raw,
    {{ clean_text('d."townCode"') }} as town_code_raw,
    coalesce(by_code.town_code, by_name.town_code) as town_code,
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
{{ join_town_alias('by_code', 'd."townCode"') }}
{{ join_town_alias('by_name', 'd."townName"') }}
where d._duplicate_rank = 1
