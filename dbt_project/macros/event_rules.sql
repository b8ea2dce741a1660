{#- 事件处置 rules, shared by event_handling, town_dossier and town_events so that an event counts the same
    way on every page. `e` is the alias of a relation with int_events_as_of's columns. -#}

{#- 应办结 / due: it has a deadline and is finished, or is still open past the deadline at the end of the as-of day. -#}
{% macro event_is_due(e) -%}
    ({{ e }}.deadline is not null and ({{ e }}.finish_time is not null or {{ e }}.deadline < {{ as_of_end_ts() }}))
{%- endmacro %}

{#- 按时办结 / on time: finished by its deadline. -#}
{% macro event_is_on_time(e) -%}
    ({{ e }}.deadline is not null and {{ e }}.finish_time is not null and {{ e }}.finish_time <= {{ e }}.deadline)
{%- endmacro %}

{#- 处置部门 / the handling department: the resolved unit when the crosswalk knows the name, else the name as
    delivered, else 未指派. `units` is the alias of the join_unit_crosswalk on e.handle_dept_raw. -#}
{% macro event_dept(units, e) -%}
    coalesce({{ units }}.unit_name, {{ e }}.handle_dept_raw, '未指派')
{%- endmacro %}
