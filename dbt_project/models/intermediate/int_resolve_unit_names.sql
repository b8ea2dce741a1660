-- The unit crosswalk applied: every unit name seen in the sources (and every canonical name)
-- resolved to one unit, with its line of department.
--   1. unit_aliases seed (exact name variant, after normalize_name);
--   2. a town's government: a town name variant, optionally followed by a suffix of var
--      town_unit_suffix_pattern (人民政府, 办事处, 管委会, 综合信息指挥室, 四平台 ...);
--   3. a village's committee: a registry village name, optionally followed by 村民委员会/居民委员会/村委会/居委会;
--   4. otherwise unresolved (listed in unmapped_values), but its line is still recognised by name.
-- Line: unit_line_exceptions seed first, else the highest-priority pattern of unit_line_patterns
-- contained in the (resolved, else raw) name.
with names as (
    select distinct seen.name_key from {{ ref('int_list_unit_names_seen') }} as seen
    where seen.name_key is not null
    union
    select distinct {{ normalize_name('ua.unit_name') }} from {{ ref('unit_aliases') }} as ua
),

by_alias as (
    select
        n.name_key,
        min(ua.unit_name) as unit_name
    from names as n
    inner join {{ ref('unit_aliases') }} as ua
        on {{ normalize_name('ua.alias') }} = n.name_key
    group by n.name_key
),

by_town as (
    select
        n.name_key,
        min(t.town_name || case t.town_kind when '镇' then '人民政府' when '街道' then '办事处' else '管委会' end)
            as unit_name
    from names as n
    inner join {{ ref('town_aliases') }} as ta
        on {{ normalize_name('ta.alias') }}
            = regexp_replace(n.name_key, '{{ var("town_unit_suffix_pattern") }}', '')
    inner join {{ ref('towns') }} as t
        on t.town_code = ta.town_code
    group by n.name_key
),

by_village as (
    select
        n.name_key,
        min(v.village_name || case v.village_kind when '社区' then '居民委员会' else '村民委员会' end) as unit_name
    from names as n
    inner join {{ ref('stg_registry__villages') }} as v
        on {{ normalize_name('v.village_name') }}
            = regexp_replace(n.name_key, '(村民委员会|居民委员会|村委会|居委会)$', '')
    group by n.name_key
),

resolved as (
    select
        n.name_key,
        coalesce(a.unit_name, tg.unit_name, vc.unit_name) as unit_name,
        case
            when a.unit_name is not null then 'alias'
            when tg.unit_name is not null then 'town_government'
            when vc.unit_name is not null then 'village_committee'
        end as resolved_by
    from names as n
    left join by_alias as a on a.name_key = n.name_key
    left join by_town as tg on tg.name_key = n.name_key
    left join by_village as vc on vc.name_key = n.name_key
),

pattern_hits as (
    select
        r.name_key,
        p.line_code,
        row_number() over (partition by r.name_key order by p.priority) as hit_rank
    from resolved as r
    inner join {{ ref('unit_line_patterns') }} as p
        on strpos(coalesce(r.unit_name, r.name_key), p.pattern) > 0
)

select
    r.name_key,
    r.unit_name,
    r.unit_name is not null as is_resolved,
    r.resolved_by,
    coalesce(ex.line_code, hit.line_code) as line_code,
    case when ex.line_code is not null then 'exception' when hit.line_code is not null then 'pattern' end
        as line_source
from resolved as r
left join {{ ref('unit_line_exceptions') }} as ex
    on {{ normalize_name('ex.unit_name') }} = coalesce({{ normalize_name('r.unit_name') }}, r.name_key)
left join pattern_hits as hit
    on hit.name_key = r.name_key and hit.hit_rank = 1
