-- Departments and units (one row per canonical unit), with their line of department.
select
    u.unit_name,
    u.line_code,
    lines.line_name_zh,
    lines.line_name_en,
    coalesce(lines.is_territorial, false) as is_territorial,
    max(u.line_source) as line_source,
    count(*) as name_variants
from {{ ref('int_resolve_unit_names') }} as u
left join {{ ref('department_lines') }} as lines
    on lines.line_code = u.line_code
where u.is_resolved
group by u.unit_name, u.line_code, lines.line_name_zh, lines.line_name_en, lines.is_territorial
