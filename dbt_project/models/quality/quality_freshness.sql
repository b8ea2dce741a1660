-- 及时性 / freshness per source: days between the as-of date and the newest delivery, against the
-- source's expected cadence. A file stamped with a date counts as delivered on that date even when
-- its content repeats an earlier file; an unstamped file (registry) only when its content changed.
-- raw.load_log is read as a plain relation, not a dbt source: it is ingest's bookkeeping, written by every
-- ingest asset, and a source would appear in Dagster as an asset nobody materializes.
{{ config(materialized='table') }}

with delivered as (
    select
        l.source_system,
        coalesce(
            {{ yyyymmdd_in('l.source_file') }},
            case when l.status = 'loaded' then cast(l.started_at as date) end
        ) as delivery_date
    from {{ api.Relation.create(database=target.database, schema='raw', identifier='load_log') }} as l
    where l.status in ('loaded', 'skipped_duplicate')
),

latest as (
    select d.source_system, max(d.delivery_date) as last_delivery_date
    from delivered as d
    group by d.source_system
)

select
    e.source_system,
    latest.last_delivery_date,
    e.max_age_days,
    case
        when latest.last_delivery_date is null then null
        else greatest(0, {{ dbt.datediff('latest.last_delivery_date', as_of_date(), 'day') }})
    end as age_days,
    case
        when latest.last_delivery_date is null then 'fail'
        when {{ dbt.datediff('latest.last_delivery_date', as_of_date(), 'day') }} <= e.max_age_days then 'pass'
        when {{ dbt.datediff('latest.last_delivery_date', as_of_date(), 'day') }} <= 2 * e.max_age_days then 'warn'
        else 'fail'
    end as status
from {{ ref('quality_source_expectations') }} as e
left join latest on latest.source_system = e.source_system
