-- 数据量 / volume per entity: new rows (loaded or quarantined; versions the hub already holds do not
-- count, so a feed re-sending history is no spike) in the newest delivery day against the median of the previous
-- deliveries (up to var quality_volume_baseline_deliveries). Too few earlier deliveries: no verdict (pass).
{{ config(materialized='table') }}

{%- set baseline_size = var('quality_volume_baseline_deliveries', 14) %}
{%- set min_baseline = var('quality_volume_min_baseline', 3) %}

with per_day as (
    select d.source_system, d.entity, d.delivery_date, sum(d.rows_new) as rows_delivered
    from {{ ref('quality_deliveries') }} as d
    where d.status = 'loaded'
    group by d.source_system, d.entity, d.delivery_date
),

ranked as (
    select
        p.*,
        row_number() over (partition by p.source_system, p.entity order by p.delivery_date desc) as day_rank
    from per_day as p
),

baseline as (
    select
        r.source_system,
        r.entity,
        count(*) as baseline_deliveries,
        {{ median('r.rows_delivered') }} as baseline_rows
    from ranked as r
    where r.day_rank between 2 and {{ baseline_size + 1 }}
    group by r.source_system, r.entity
),

measured as (
    select
        latest.source_system,
        latest.entity,
        latest.delivery_date as latest_delivery_date,
        latest.rows_delivered as latest_rows,
        coalesce(b.baseline_deliveries, 0) as baseline_deliveries,
        b.baseline_rows,
        case when b.baseline_rows > 0 then latest.rows_delivered / b.baseline_rows end as ratio,
        e.volume_drop_tolerance,
        e.volume_spike_tolerance
    from ranked as latest
    left join baseline as b on b.source_system = latest.source_system and b.entity = latest.entity
    left join {{ ref('quality_source_expectations') }} as e on e.source_system = latest.source_system
    where latest.day_rank = 1
)

select
    m.*,
    case
        when m.baseline_deliveries < {{ min_baseline }} or m.ratio is null then 'pass'
        when m.ratio < 1 - m.volume_drop_tolerance then 'fail'
        when m.ratio > 1 + m.volume_spike_tolerance then 'warn'
        else 'pass'
    end as status
from measured as m
