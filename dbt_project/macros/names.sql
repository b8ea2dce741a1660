{#- Name matching for the crosswalks: trim, drop inner blanks, full-width parentheses,
    empty string -> NULL. Applied the same way to seed aliases and source values. -#}
{% macro normalize_name(expr) -%}
    nullif(replace(replace(replace(replace(trim({{ expr }}), ' ', ''), '　', ''), '(', '（'), ')', '）'), '')
{%- endmacro %}

{#- Text as given, NULL when blank. -#}
{% macro clean_text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- A timestamp text from inside the four_platforms JSON (flows): ISO-8601 with an offset is
    converted to Asia/Shanghai local time; text without an offset is already local. NULL when it does not parse
    (macros/cross_db.sql). -#}
{% macro local_timestamp(expr) -%}
    case
        when {{ clean_text(expr) }} is null then null
        when {{ regexp_contains('trim(' ~ expr ~ ')', '(Z|[+-][0-9]{2}:?[0-9]{2})$') }}
            then {{ try_offset_timestamp_at('trim(' ~ expr ~ ')', var("timezone")) }}
        else {{ try_cast_timestamp("replace(trim(" ~ expr ~ "), 'T', ' ')") }}
    end
{%- endmacro %}

{#- Left-join the town crosswalk (name variants, prefixed names, old codes) on a source value. -#}
{% macro join_town_alias(join_alias, expr) -%}
    left join {{ ref('town_aliases') }} as {{ join_alias }}
        on {{ normalize_name(join_alias ~ '.alias') }} = {{ normalize_name(expr) }}
{%- endmacro %}

{#- Left-join the unit crosswalk (int_resolve_unit_names: unit_name, is_resolved, ...) on a source value. -#}
{% macro join_unit_crosswalk(join_alias, expr) -%}
    left join {{ ref('int_resolve_unit_names') }} as {{ join_alias }}
        on {{ join_alias }}.name_key = {{ normalize_name(expr) }}
{%- endmacro %}
