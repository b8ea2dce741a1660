-- Responsibility-list leads resolved to units and lines (one row per line and lead unit).
select
    leads.item_number,
    leads.domain,
    leads.task,
    leads.level,
    leads.lead_unit_raw,
    coalesce(units.unit_name, leads.lead_unit_raw) as lead_unit,
    coalesce(units.is_resolved, false) as is_unit_resolved,
    units.line_code
from {{ ref('int_split_responsibility_leads') }} as leads
{{ join_unit_crosswalk('units', 'leads.lead_unit_raw') }}
