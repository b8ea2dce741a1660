-- Emergency equipment (latest snapshot); the holder is a team or a warehouse.
with latest as (
    {{ latest_snapshot(source('registry', 'equipment')) }}
)

select
    l."装备编号" as equipment_id,
    l."持有方编号" as holder_id,
    l."装备类型" as equipment_type,
    coalesce(l."数量", 1) as quantity,
    l."状态" as status,
    l."状态" = '可用' as is_usable,
    {{ lineage_columns('l') }}
from latest as l
