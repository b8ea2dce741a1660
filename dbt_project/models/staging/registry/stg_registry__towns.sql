-- Town register of the bureau (latest snapshot): leadership group, station plaque, liaison.
with latest as (
    {{ latest_snapshot(source('registry', 'towns')) }}
)

select
    town.town_code,
    l."区划代码" as town_code_raw,
    l."名称" as town_name,
    l."类型" as town_kind,
    l."领导小组成立日期" as leadership_group_date,
    l."应急管理站挂牌" = '是' as has_station_plaque,
    {{ clean_text('l."联络员工号"') }} as liaison_worker_id,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."区划代码"') }}
