{#- Staging helpers over raw tables (which carry lineage columns _source_file, _row_number,
    _load_id, _loaded_at, _row_hash). -#}

{#- Registry entities are full snapshots: keep only the rows of the latest load. -#}
{% macro latest_snapshot(relation) -%}
    select snap.*
    from {{ relation }} as snap
    where snap._load_id = (
        select latest._load_id
        from {{ relation }} as latest
        order by latest._loaded_at desc, latest._load_id desc
        limit 1
    )
{%- endmacro %}

{#- Incremental entities: one row per business key, the latest load wins; the first load
    time of the key is kept as _first_loaded_at (when the hub first saw the record). -#}
{% macro latest_per_key(relation, key_columns) -%}
    {%- set keys = [] -%}
    {%- for c in key_columns -%}{%- do keys.append('versions.' ~ adapter.quote(c)) -%}{%- endfor -%}
    select *
    from (
        select
            versions.*,
            row_number() over (
                partition by {{ keys | join(', ') }}
                order by versions._loaded_at desc, versions._source_file desc, versions._row_number desc
            ) as _version_rank,
            min(versions._loaded_at) over (partition by {{ keys | join(', ') }}) as _first_loaded_at
        from {{ relation }} as versions
    ) as ranked
    where ranked._version_rank = 1
{%- endmacro %}

{% macro lineage_columns(alias) -%}
    {{ alias }}._source_file,
    {{ alias }}._row_number,
    {{ alias }}._load_id,
    {{ alias }}._loaded_at
{%- endmacro %}
