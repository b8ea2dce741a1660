{#- 有预案 date rule, shared by town_readiness and emergency_plans: a plan is current when its last revision
    (else publication) date is on or before the as-of date and within var plan_revision_years of it.
    NULL when the date is NULL. -#}
{% macro plan_is_current(date_expr) -%}
    ({{ date_expr }} <= {{ as_of_date() }}
        and {{ date_expr }} >= {{ dbt.dateadd('year', -1 * var('plan_revision_years'), as_of_date()) }})
{%- endmacro %}
