-- 数据源期望 / what the hub expects of each source: how often it delivers (freshness) and how far
-- a delivery's row count may move from the recent median (volume). Override with the var
-- quality_source_expectations ({source: {max_age_days, volume_drop_tolerance, volume_spike_tolerance}}).
{%- set defaults = {
    'four_platforms': {'max_age_days': 1, 'volume_drop_tolerance': 0.6, 'volume_spike_tolerance': 2.0},
    'water': {'max_age_days': 7, 'volume_drop_tolerance': 0.3, 'volume_spike_tolerance': 0.5},
    'urban': {'max_age_days': 1, 'volume_drop_tolerance': 0.3, 'volume_spike_tolerance': 0.5},
    'utility': {'max_age_days': 1, 'volume_drop_tolerance': 0.3, 'volume_spike_tolerance': 0.5},
    'registry': {'max_age_days': 7, 'volume_drop_tolerance': 0.3, 'volume_spike_tolerance': 0.5},
} -%}
{%- set expectations = var('quality_source_expectations', defaults) %}

{{ config(materialized='table') }}

{% for source_system, e in expectations.items() -%}
select
    '{{ source_system }}' as source_system,
    cast({{ e['max_age_days'] }} as integer) as max_age_days,
    cast({{ e['volume_drop_tolerance'] }} as double precision) as volume_drop_tolerance,
    cast({{ e['volume_spike_tolerance'] }} as double precision) as volume_spike_tolerance
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}
