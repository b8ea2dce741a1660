-- 考核对象: the units assessed — every town of the town list, and every district department (a resolved,
-- non-territorial unit whose canonical name starts with var assessment_department_prefix, default 区).
select
    'town' as unit_kind,
    t.town_code as unit_id,
    t.town_name as unit_name
from {{ ref('dim_towns') }} as t
union all
select
    'department',
    u.unit_name,
    u.unit_name
from {{ ref('dim_units') }} as u
where not u.is_territorial and u.unit_name like '{{ var("assessment_department_prefix", "区") }}%'
