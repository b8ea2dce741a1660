-- Rescue teams (latest snapshot).
with latest as (
    {{ latest_snapshot(source('registry', 'rescue_teams')) }}
)

select
    l."队伍编号" as team_id,
    l."队伍名称" as team_name,
    l."类型" as team_type,
    {{ clean_text('l."所属单位"') }} as owner_unit_raw,
    {{ clean_text('l."驻地镇街"') }} as town_raw,
    town.town_code,
    coalesce(l."人数", 0) as headcount,
    {{ clean_text('l."专长"') }} as specialty,
    coalesce(l."资质" = '有', false) as is_qualified,
    coalesce(l."协议签订" = '是', false) as has_agreement,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."驻地镇街"') }}
