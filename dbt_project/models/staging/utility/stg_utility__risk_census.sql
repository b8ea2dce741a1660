-- Natural-hazard risk census, water supply part: one row per item_id, latest file wins.
with latest as (
    {{ latest_per_key(source('utility', 'risk_census'), ['item_id']) }}
)

select
    l.item_id,
    {{ clean_text('l.census_batch') }} as census_batch,
    {{ clean_text('l.object_type') }} as object_type,
    {{ clean_text('l.object_id') }} as object_id,
    {{ clean_text('l.town') }} as town_raw,
    town.town_code,
    l.risk_level,
    {{ clean_text('l.finding') }} as finding,
    l.rectify_deadline,
    l.status,
    cast(l._first_loaded_at as date) as first_seen_date,
    {{ lineage_columns('l') }}
from latest as l
{{ join_town_alias('town', 'l.town') }}
