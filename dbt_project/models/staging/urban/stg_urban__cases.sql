-- Urban management cases (城管案件: 数字城管 and 12345): one row per 案件编号, latest file wins.
with latest as (
    {{ latest_per_key(source('urban', 'cases'), ['案件编号']) }}
)

select
    l."案件编号" as case_id,
    l."来源" as case_source,
    {{ clean_text('l."大类"') }} as category_major,
    {{ clean_text('l."小类"') }} as category_minor,
    {{ clean_text('l."镇街"') }} as town_raw,
    town.town_code,
    l."上报时间" as reported_at,
    {{ clean_text('l."派遣单位"') }} as dispatch_unit_raw,
    l."处置时限" as handle_deadline,
    l."结案时间" as closed_at,
    {{ clean_text('l."处置结果"') }} as handling_result,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l."镇街"') }}
