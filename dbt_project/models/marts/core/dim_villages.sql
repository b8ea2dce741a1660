-- Villages and communities of the registry, with their town.
select
    v.village_code,
    v.village_name,
    v.village_kind,
    v.town_code,
    t.town_name
from {{ ref('stg_registry__villages') }} as v
left join {{ ref('towns') }} as t
    on t.town_code = v.town_code
