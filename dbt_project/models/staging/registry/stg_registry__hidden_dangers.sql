-- Hidden-danger ledger (隐患台账, latest snapshot).
with latest as (
    {{ latest_snapshot(source('registry', 'hidden_dangers')) }}
)

select
    l."隐患编号" as danger_id,
    l."发现日期" as found_date,
    l."镇街代码" as town_code_raw,
    town.town_code,
    {{ clean_text('l."村社代码"') }} as village_code,
    l."隐患等级" as danger_level,
    {{ clean_text('l."类别"') }} as category_raw,
    {{ clean_text('l."描述"') }} as description,
    {{ clean_text('l."整改责任单位"') }} as owner_unit_raw,
    {{ clean_text('l."督办单位"') }} as supervising_unit_raw,
    l."整改期限" as deadline,
    l."状态" as status,
    l."销号日期" as closed_date,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."镇街代码"') }}
