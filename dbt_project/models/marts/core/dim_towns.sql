-- The 27 towns (镇街 and platforms) of the town crosswalk, with the bureau's town register.
with registered as (
    select
        r.*,
        row_number() over (partition by r.town_code order by r._loaded_at desc, r._row_number) as register_rank
    from {{ ref('stg_registry__towns') }} as r
    where r.town_code is not null
)

select
    t.town_code,
    t.town_name,
    t.town_kind,
    r.town_code is not null as is_registered,
    r.leadership_group_date,
    coalesce(r.has_station_plaque, false) as has_station_plaque,
    r.liaison_worker_id
from {{ ref('towns') }} as t
left join registered as r
    on r.town_code = t.town_code and r.register_rank = 1
