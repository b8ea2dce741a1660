-- Water conservancy works (水库山塘 sheet): one row per 工程编号, latest export wins.
with latest as (
    {{ latest_per_key(source('water', 'reservoirs'), ['工程编号']) }}
)

select
    l."工程编号" as project_id,
    l."工程名称" as project_name,
    l."工程类型" as project_type,
    {{ clean_text('l."规模等级"') }} as scale_grade,
    {{ clean_text('l."所在镇街"') }} as town_raw,
    town.town_code,
    {{ clean_text('l."所在村社"') }} as village_name,
    l."经度" as lng,
    l."纬度" as lat,
    l."库容(万m³)" as storage_10k_m3,
    {{ clean_text('l."管理单位"') }} as management_unit_raw,
    {{ clean_text('l."主管部门"') }} as competent_dept_raw,
    {{ clean_text('l."安全鉴定结论"') }} as safety_appraisal,
    l."最近检查日期" as last_inspection_date,
    cast(l._first_loaded_at as date) as first_seen_date,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."所在镇街"') }}
