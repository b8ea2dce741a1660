-- Grid workers and liaison officers (latest snapshot).
with latest as (
    {{ latest_snapshot(source('registry', 'grid_workers')) }}
)

select
    l."工号" as worker_id,
    l."姓名" as worker_name,
    l."角色" as role,
    {{ clean_text('l."村社代码"') }} as village_code,
    {{ clean_text('l."网格编号"') }} as grid_code,
    {{ clean_text('l."手机"') }} as mobile,
    l."上岗日期" as start_date,
    l."状态" as status,
    l."状态" = '在岗' as is_in_post,
    l."年度培训次数" as trainings_per_year,
    {{ lineage_columns('l') }}
from latest as l
