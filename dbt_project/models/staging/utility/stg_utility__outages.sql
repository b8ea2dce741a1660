-- Water supply outages: one row per outage_id, latest file wins (a later file may add restored_at).
with latest as (
    {{ latest_per_key(source('utility', 'outages'), ['outage_id']) }}
)

select
    l.outage_id,
    l.kind as outage_kind,
    {{ clean_text('l.cause') }} as cause,
    l.start_at,
    l.expected_restore_at,
    l.restored_at,
    l.towns as towns_raw,
    l.affected_households,
    l.notice_channels,
    {{ lineage_columns('l') }}
from latest as l
