-- Analysis spec, Conventions: records dated after the data cut-off are ignored
-- by every analysis table, and censoring never goes past it. Every date of the
-- adam tables derives from the records as known at the cut-off
-- (intermediate/cutoff), so none may be after it; a row here is a date that
-- escaped the cut (RFICDT, consent before enrolment, is not an analysis date).
-- One row per (record, analysis date column): a union of one select per
-- column (portable SQL: DuckDB and Spark unnest lists differently).
{%- set date_columns = [
    ('adsl', 'ENRLDT'), ('adsl', 'TRTSDT'), ('adsl', 'TRTEDT'), ('adsl', 'DTHDT'), ('adsl', 'LSTALVDT'),
    ('adae', 'ASTDT'), ('adae', 'AENDT'),
    ('adtte', 'STARTDT'), ('adtte', 'ADT'),
    ('adrs', 'ADT'),
    ('adcp', 'ADT'),
    ('adgf', 'ADT'),
] %}
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
