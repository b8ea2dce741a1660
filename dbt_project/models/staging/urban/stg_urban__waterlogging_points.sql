-- Waterlogging points (积水点): one row per 积水点编号, latest file wins.
with latest as (
    {{ latest_per_key(source('urban', 'waterlogging_points'), ['积水点编号']) }}
)

select
    l."积水点编号" as point_id,
    l."名称" as point_name,
    {{ clean_text('l."镇街"') }} as town_raw,
    town.town_code,
    {{ clean_text('l."位置描述"') }} as location_description,
    l."经度" as lng,
    l."纬度" as lat,
    {{ clean_text('l."成因"') }} as cause,
    l."整治状态" as rectification_status,
    l."历史最大积水深度(cm)" as max_depth_cm,
    {{ clean_text('l."责任单位"') }} as responsible_unit_raw,
    l."最近积水时间" as last_waterlogged_at,
    cast(l._first_loaded_at as date) as first_seen_date,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."镇街"') }}
