-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 隐患台账（全源）: every source's hidden dangers and risk findings in one register, as of var as_of.
-- A danger closed after the as-of date counts as open; one found after it is not yet listed.
-- days_open needs a discovery date, which only the registry ledger carries.
with dangers as (
    select
        d.*,
        d.is_closed and (d.closed_date is null or d.closed_date <= {{ as_of_date() }}) as is_closed_as_of
    from {{ ref('int_unify_hidden_dangers') }} as d
    where d.found_date is null or d.found_date <= {{ as_of_date() }}
)

select
    d.source_system || ':' || d.danger_id as register_id,
    d.danger_id,
    d.source_system,
    d.town_code,
    t.town_name,
    d.town_raw,
    d.village_code,
    d.level,
    d.level in ('重大', '高') as is_major,
    coalesce(hc.category_name, d.category_raw) as category,
    hc.category_code,
    units.unit_name as owner_dept,
    d.owner_unit_raw as owner_dept_raw,
    units.line_code as owner_dept_line,
    d.description,
    d.found_date,
    d.first_seen_date,
    d.deadline,
    d.status,
    d.is_closed_as_of as is_closed,
    d.closed_date,
    not d.is_closed_as_of and d.deadline is not null and {{ as_of_date() }} > d.deadline as is_overdue,
    case
        when not d.is_closed_as_of and d.deadline is not null and {{ as_of_date() }} > d.deadline
            then {{ dbt.datediff('d.deadline', as_of_date(), 'day') }}
        else 0
    end as overdue_days,
    case
        when d.found_date is null then null
        when d.is_closed_as_of then {{ dbt.datediff('d.found_date', 'd.closed_date', 'day') }}
        else {{ dbt.datediff('d.found_date', as_of_date(), 'day') }}
    end as days_open,
    d.is_supervised,
    d.supervising_unit_raw as supervising_unit,
    {{ as_of_date() }} as as_of_date
from dangers as d
left join {{ ref('towns') }} as t
    on t.town_code = d.town_code
left join {{ ref('hazard_categories') }} as hc
    on {{ normalize_name('hc.alias') }} = {{ normalize_name('d.category_raw') }}
{{ join_unit_crosswalk('units', 'd.owner_unit_raw') }}
