-- Villages and communities (latest snapshot).
with latest as (
    {{ latest_snapshot(source('registry', 'villages')) }}
)

select
    l."区划代码" as village_code,
    l."名称" as village_name,
    l."所属镇街代码" as town_code_raw,
    town.town_code,
    l."类型" as village_kind,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."所属镇街代码"') }}
