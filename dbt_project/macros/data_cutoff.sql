{#- The data cut-off, applied once: the models of intermediate/cutoff/
    (int_<domain>_at_cutoff) are the site records as known at the cut-off
    (config.studies.DATA_CUTOFF; NULL = none, every record kept), and every
    other model and data-review finding reads them instead of staging, so all
    see the same hidden set. docs/derivations.md ("Data cut-off") gives the
    rules and the tests that pin them.

    records_at_cutoff: the records of `staged` (a staging relation) whose
    `dated_by` expression (over alias r) is on or before the cut-off, of
    subjects enrolled by then (int_dm_at_cutoff; by_subject=false for DM
    itself). `replace` maps columns to expressions (aliases r, s) that replace
    them, e.g. an end date after the cut-off that is not known at it; `joins`
    adds joins those expressions need.
    No not_null test on these models' USUBJID: the data contracts require it
    (a row without one is quarantined at ingest), and the inner join on it to
    int_dm_at_cutoff drops a NULL besides; a test of it could never fail, and
    would cost a dbt node (and, on int_gf_at_cutoff, a view, a scan) a night. -#}
{% macro records_at_cutoff(staged, dated_by, replace={}, by_subject=true, joins='') -%}
select
    {{ star_replace('r', staged, replace) }}
from {{ staged }} as r
inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = r.STUDYID
{%- if by_subject %}
inner join {{ ref('int_dm_at_cutoff') }} as dm on dm.STUDYID = r.STUDYID and dm.USUBJID = r.USUBJID
{%- endif %}
{{ joins }}
where {{ on_or_before_cutoff(dated_by, 's.DATA_CUTOFF') }}
{%- endmacro %}

{#- A value dated by `date_expr` that is known at the cut-off, else NULL: an end
    date after the cut-off is not known at it (the record is ongoing then). -#}
{% macro known_at_cutoff(value_expr, date_expr, cutoff_expr='s.DATA_CUTOFF') -%}
    case when {{ on_or_before_cutoff(date_expr, cutoff_expr) }} then {{ value_expr }} end
{%- endmacro %}

{#- The rows of a singular test that no analysis date escaped the cut-off:
    one per (record, date column of `date_columns`, a list of (model, column))
    dated after its study's DATA_CUTOFF. A union of one select per column
    (portable SQL: DuckDB and Spark unnest lists differently). -#}
{% macro analysis_dates_after_cutoff(date_columns) -%}
with analysis_dates as (
    {% for table, column in date_columns %}
    select
        STUDYID,
        USUBJID,
        '{{ table }}' as TABLE_NAME,
        '{{ column }}' as COLUMN_NAME,
        {{ column }} as ANALYSIS_DT
    from {{ ref(table) }}
    {% if not loop.last %}
    union all
    {% endif %}
    {% endfor %}
)

select
    d.STUDYID,
    d.USUBJID,
    d.TABLE_NAME,
    d.COLUMN_NAME,
    d.ANALYSIS_DT,
    s.DATA_CUTOFF
from analysis_dates as d
inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = d.STUDYID
where d.ANALYSIS_DT > s.DATA_CUTOFF
{%- endmacro %}
