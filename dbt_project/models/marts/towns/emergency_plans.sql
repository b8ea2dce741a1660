-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 预案明细: one row per registered plan (district plans with town_code NULL), for the town page.
-- is_current uses the date rule of 有预案 in town_readiness (macros/plan_rules.sql): last revision (else publication) on or before
-- the as-of date and within var plan_revision_years of it. The register is a current snapshot, so a plan
-- published after the as-of date is listed but not current.
{%- set as_of = as_of_date() %}
with drills as (
    select
        d.plan_id,
        count(*) as drills,
        max(d.drill_date) as last_drill_date
    from {{ ref('stg_registry__drills') }} as d
    where d.plan_id is not null and d.drill_date <= {{ as_of }}
    group by d.plan_id
)

select
    p.plan_id,
    p.plan_name,
    p.plan_category,
    p.hazard_type,
    p.town_code,
    t.town_name,
    p.town_code_raw,
    p.town_code_raw is null as is_district_level,
    -- the resolved unit when the crosswalk knows the name, else the name as delivered
    coalesce(units.unit_name, p.author_unit_raw) as issuer,
    p.author_unit_raw as issuer_raw,
    coalesce(units.is_resolved, false) as is_issuer_resolved,
    p.published_date,
    p.revised_date,
    p.effective_date,
    p.file_name,
    coalesce({{ plan_is_current('p.effective_date') }}, false) as is_current,
    coalesce(dr.drills, 0) as drills,
    dr.last_drill_date,
    {{ as_of }} as as_of_date
from {{ ref('stg_registry__plans') }} as p
left join {{ ref('towns') }} as t
    on t.town_code = p.town_code
left join drills as dr
    on dr.plan_id = p.plan_id
{{ join_unit_crosswalk('units', 'p.author_unit_raw') }}
