-- Tagged as_of: computed as of var as_of, so rebuild all of tag:as_of together when the date changes.
{{ config(tags=['as_of']) }}
-- 网格覆盖: per village, grid workers (网格员) in post as of var as_of; a village with none is
-- uncovered. The town's liaison officer in post is repeated on each village row.
with workers as (
    select
        w.village_code,
        count(case when w.role = '网格员' then 1 end) as workers_in_post,
        count(case when w.role = '联络员' then 1 end) as liaisons_in_post
    from {{ ref('stg_registry__grid_workers') }} as w
    where w.is_in_post and (w.start_date is null or w.start_date <= {{ as_of_date() }})
    group by w.village_code
)

select
    v.village_code,
    v.village_name,
    v.village_kind,
    v.town_code,
    v.town_name,
    coalesce(w.workers_in_post, 0) as workers_in_post,
    coalesce(w.workers_in_post, 0) = 0 as is_uncovered,
    coalesce(w.liaisons_in_post, 0) as liaisons_in_post,
    liaison.liaison_worker_id as town_liaison_worker_id,
    coalesce(liaison.liaison_in_post, false) as town_liaison_in_post,
    {{ as_of_date() }} as as_of_date
from {{ ref('dim_villages') }} as v
left join workers as w on w.village_code = v.village_code
left join {{ ref('int_town_liaisons') }} as liaison on liaison.town_code = v.town_code
