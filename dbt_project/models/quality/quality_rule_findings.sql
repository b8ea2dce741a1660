-- 规则检查发现 / the records that break a rule, with the field, value and reason: the rows to fix.
{{ config(materialized='table') }}

select
    e.check_name,
    e.check_kind,
    e.source_system,
    e.entity,
    e.key_field,
    e.row_key,
    e.field,
    e.value,
    e.reason,
    e.owner_dept
from {{ ref('quality_rule_evaluations') }} as e
where e.is_failing
