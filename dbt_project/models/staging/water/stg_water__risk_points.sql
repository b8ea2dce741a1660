-- Risk points (风险点 sheet): one row per 风险点编号, latest export wins.
with latest as (
    {{ latest_per_key(source('water', 'risk_points'), ['风险点编号']) }}
)

select
    l."风险点编号" as risk_point_id,
    l."风险类型" as risk_type,
    {{ clean_text('l."所在镇街"') }} as town_raw,
    town.town_code,
    {{ clean_text('l."所在村社"') }} as village_name,
    l."影响户数" as households_affected,
    l."影响人数" as people_affected,
    {{ clean_text('l."转移安置点"') }} as relocation_site,
    {{ clean_text('l."预警指标"') }} as warning_indicator,
    {{ clean_text('l."普查批次"') }} as census_batch,
    cast(l._first_loaded_at as date) as first_seen_date,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."所在镇街"') }}
