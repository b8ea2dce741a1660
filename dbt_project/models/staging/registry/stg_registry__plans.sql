-- Emergency plan register (预案登记, latest snapshot). town_code is NULL for district-level plans.
with latest as (
    {{ latest_snapshot(source('registry', 'plans')) }}
)

select
    l."预案编号" as plan_id,
    l."预案名称" as plan_name,
    l."预案类别" as plan_category,
    {{ clean_text('l."灾种"') }} as hazard_type,
    {{ clean_text('l."编制单位"') }} as author_unit_raw,
    {{ clean_text('l."镇街代码"') }} as town_code_raw,
    town.town_code,
    l."发布日期" as published_date,
    l."最近修订日期" as revised_date,
    coalesce(l."最近修订日期", l."发布日期") as effective_date,
    {{ clean_text('l."文件名"') }} as file_name,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."镇街代码"') }}
