{#- 有物资 counting rule, shared by rescue_capacity and rescue_teams: the sums of usable equipment as
    boats (var boat_types), pumps (var pump_types) and all items. Rows are filtered to usable by the caller. -#}
{% macro usable_equipment_sums(type_col, quantity_col) -%}
    sum(case when {{ type_col }} in {{ sql_list(var('boat_types')) }} then {{ quantity_col }} else 0 end)
            as usable_boats,
        sum(case when {{ type_col }} in {{ sql_list(var('pump_types')) }} then {{ quantity_col }} else 0 end)
            as usable_pumps,
        sum({{ quantity_col }}) as usable_equipment_items
{%- endmacro %}
