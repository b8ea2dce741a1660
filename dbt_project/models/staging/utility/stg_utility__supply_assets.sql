-- Water supply assets of the district utility group: one row per asset_id, latest file wins.
with latest as (
    {{ latest_per_key(source('utility', 'supply_assets'), ['asset_id']) }}
)

select
    l.asset_id,
    l.asset_type,
    l."name" as asset_name,
    {{ clean_text('l.town') }} as town_raw,
    town.town_code,
    l.villages as village_names,
    l.population_served,
    l.design_capacity_m3d,
    {{ clean_text('l.operator') }} as operator_raw,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l.town') }}
