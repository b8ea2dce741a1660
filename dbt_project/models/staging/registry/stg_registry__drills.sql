-- Drill records (演练记录, latest snapshot).
with latest as (
    {{ latest_snapshot(source('registry', 'drills')) }}
)

select
    l."演练编号" as drill_id,
    {{ clean_text('l."预案编号"') }} as plan_id,
    {{ clean_text('l."镇街代码"') }} as town_code_raw,
    town.town_code,
    l."演练日期" as drill_date,
    l."形式" as drill_form,
    l."参与人数" as participants,
    l."评估得分" as score,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."镇街代码"') }}
