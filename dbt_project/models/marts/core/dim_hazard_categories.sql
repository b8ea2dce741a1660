-- Hazard categories (conformed), with how many source spellings map to each.
select
    hc.category_code,
    min(hc.category_name) as category_name,
    count(*) as name_variants
from {{ ref('hazard_categories') }} as hc
group by hc.category_code
