-- Responsibility list (责任清单, latest snapshot): one row per listed line; it has no business key,
-- so the row's position in the file identifies it.
with latest as (
    {{ latest_snapshot(source('registry', 'responsibility_list')) }}
)

select
    l._row_number as item_number,
    trim(l."领域") as domain,
    l."层级" as level,
    trim(l."事项") as task,
    {{ clean_text('l."牵头单位"') }} as lead_units_raw,
    {{ clean_text('l."配合单位"') }} as supporting_units_raw,
    {{ clean_text('l."依据文件"') }} as basis_document,
    {{ lineage_columns('l') }}
from latest as l
