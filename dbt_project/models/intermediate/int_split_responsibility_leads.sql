-- One row per responsibility-list line and lead unit: a 牵头单位 cell may list several units
-- separated by 、，,；;/ (each is a lead of its own, which is what makes a conflict).
-- A line without a lead keeps one row with lead_unit_raw NULL (a gap candidate).
-- regexp_split_to_array + unnest (the same in DuckDB and PostgreSQL).
with split as (
    select
        r.item_number,
        r.domain,
        r.task,
        r.level,
        trim(part.lead) as lead_unit_raw
    from {{ ref('stg_registry__responsibility_list') }} as r,
        unnest(regexp_split_to_array(coalesce(r.lead_units_raw, ''), '[、，,；;/]')) as part(lead)
)

select
    s.item_number,
    s.domain,
    s.task,
    s.level,
    nullif(s.lead_unit_raw, '') as lead_unit_raw
from split as s
where nullif(s.lead_unit_raw, '') is not null
    or not exists (
        select 1 from split as other
        where other.item_number = s.item_number and nullif(other.lead_unit_raw, '') is not null
    )
