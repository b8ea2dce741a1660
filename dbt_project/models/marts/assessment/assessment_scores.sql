-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 考核指标得分: one row per assessed unit and indicator of seeds/assessment_indicators.csv for the assessment
-- month. value: sum(numerator) of the evidence rows for counts (0 without rows), sum(numerator) ÷
-- sum(denominator) for rates (NULL without rows: the indicator is not scored and its weight drops out).
-- score (0–100) runs linearly from zero_at (0 points) to full_at (100 points), capped at both ends.
{%- set rate_indicators = ['grid_coverage', 'event_on_time', 'event_returns', 'team_compliance', 'data_quality'] %}
{%- set as_of = as_of_date() %}
with evidence as (
    select
        ev.unit_kind,
        ev.unit_id,
        ev.indicator_code,
        count(*) as evidence_rows,
        count(case when ev.counts_against then 1 end) as rows_against,
        sum(ev.numerator) as numerator,
        sum(ev.denominator) as denominator
    from {{ ref('assessment_evidence') }} as ev
    group by ev.unit_kind, ev.unit_id, ev.indicator_code
),

valued as (
    select
        u.unit_kind,
        u.unit_id,
        u.unit_name,
        i.indicator_code,
        i.indicator_name,
        cast(i.weight as double precision) as weight,
        cast(i.zero_at as double precision) as zero_at,
        cast(i.full_at as double precision) as full_at,
        i.indicator_code in {{ sql_list(rate_indicators) }} as is_rate,
        coalesce(ev.evidence_rows, 0) as evidence_rows,
        coalesce(ev.rows_against, 0) as rows_against,
        case
            when i.indicator_code in {{ sql_list(rate_indicators) }}
                then ev.numerator / nullif(ev.denominator, 0)
            else coalesce(ev.numerator, 0)
        end as value
    from {{ ref('assessment_units') }} as u
    inner join {{ ref('assessment_indicators') }} as i on i.applies_to = u.unit_kind
    left join evidence as ev
        on ev.unit_kind = u.unit_kind and ev.unit_id = u.unit_id and ev.indicator_code = i.indicator_code
)

select
    v.unit_kind,
    v.unit_id,
    v.unit_name,
    '{{ as_of_value()[:7] }}' as month,
    v.indicator_code,
    v.indicator_name,
    v.weight,
    v.zero_at,
    v.full_at,
    v.is_rate,
    v.value,
    case
        when v.value is null then null
        when v.full_at = v.zero_at then case when v.value >= v.full_at then 100.0 else 0.0 end
        else 100.0 * greatest(0.0, least(1.0, (v.value - v.zero_at) / (v.full_at - v.zero_at)))
    end as score,
    v.evidence_rows,
    v.rows_against,
    {{ as_of }} as as_of_date
from valued as v
