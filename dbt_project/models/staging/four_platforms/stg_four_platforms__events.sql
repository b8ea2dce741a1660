-- One row per event: its latest version (last updatedAt wins; ties: the latest load).
select v.*
from {{ ref('stg_four_platforms__event_versions') }} as v
where v.is_latest
