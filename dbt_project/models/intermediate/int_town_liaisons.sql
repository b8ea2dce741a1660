-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- Each town's designated liaison officer (联络员工号 of the town register) and whether that
-- person is a 联络员 in post as of var as_of.
select
    t.town_code,
    t.liaison_worker_id,
    w.worker_name as liaison_name,
    coalesce(
        w.role = '联络员' and w.is_in_post and (w.start_date is null or w.start_date <= {{ as_of_date() }}),
        false
    ) as liaison_in_post
from {{ ref('dim_towns') }} as t
left join {{ ref('stg_registry__grid_workers') }} as w
    on w.worker_id = t.liaison_worker_id
