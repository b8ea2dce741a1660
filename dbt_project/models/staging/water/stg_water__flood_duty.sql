-- Flood-control duty roster (防汛责任人): one row per object, duty category, person and year.
with latest as (
    {{ latest_per_key(source('water', 'flood_duty'), ['责任对象编号', '责任类别', '姓名', '年度']) }}
)

select
    l."责任对象类型" as object_type,
    l."责任对象编号" as object_id,
    {{ clean_text('l."责任对象名称"') }} as object_name,
    l."责任类别" as duty_category,
    l."姓名" as person_name,
    {{ clean_text('l."职务"') }} as position,
    {{ clean_text('l."单位"') }} as unit_raw,
    {{ clean_text('l."联系电话"') }} as phone,
    l."年度" as duty_year,
    {{ lineage_columns('l') }}
from latest as l
