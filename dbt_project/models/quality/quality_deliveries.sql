-- 当前交付 / the current delivery of every file: the latest load of each file name that was read
-- (loaded or rejected). Its date is the YYYYMMDD stamp in the file name, else the day it was loaded
-- (registry snapshots and feed pages carry no stamp).
-- raw.load_log is read as a plain relation, not a dbt source: it is ingest's bookkeeping, written by every
-- ingest asset, and a source would appear in Dagster as an asset nobody materializes.
{{ config(materialized='table') }}

with log as (
    select
        l.*,
        {{ yyyymmdd_in('l.source_file') }} as stamped_date
    from {{ api.Relation.create(database=target.database, schema='raw', identifier='load_log') }} as l
),

latest_per_file as (
    select
        log.*,
        row_number() over (
            partition by log.source_system, log.entity, log.source_file
            order by log.started_at desc, log.load_id desc
        ) as load_rank
    from log
    where log.status in ('loaded', 'rejected')
)

select
    f.source_system,
    f.entity,
    f.source_file,
    f.load_id,
    f.status,
    f.rows_read,
    f.rows_loaded,
    f.rows_quarantined,
    -- rows new to the hub: a feed page that repeats versions already stored adds nothing
    f.rows_loaded + f.rows_quarantined as rows_new,
    f.stamped_date is not null as is_stamped,
    coalesce(f.stamped_date, cast(f.started_at as date)) as delivery_date,
    f.started_at
from latest_per_file as f
where f.load_rank = 1
