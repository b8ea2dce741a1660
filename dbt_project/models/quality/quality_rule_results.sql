-- 规则检查结果 / one row per rule-based check: records checked, records failing.
{{ config(materialized='table') }}

select
    e.check_name,
    min(e.check_kind) as check_kind,
    min(e.source_system) as source_system,
    min(e.entity) as entity,
    min(e.owner_dept) as owner_dept,
    count(distinct e.row_key) as rows_checked,
    count(distinct case when e.is_failing then e.row_key end) as failing_rows
from {{ ref('quality_rule_evaluations') }} as e
group by e.check_name
