-- Analysis spec, Conventions: records dated after the data cut-off are ignored
-- by every analysis table, and censoring never goes past it. Every date of the
-- adam tables derives from the records as known at the cut-off
-- (intermediate/cutoff), so none may be after it; a row here is a date that
-- escaped the cut (RFICDT, consent before enrolment, is not an analysis date).
with analysis_dates as (
    select
        STUDYID,
        USUBJID,
        'adsl' as TABLE_NAME,
        unnest(['ENRLDT', 'TRTSDT', 'TRTEDT', 'DTHDT', 'LSTALVDT']) as COLUMN_NAME,
        unnest([ENRLDT, TRTSDT, TRTEDT, DTHDT, LSTALVDT]) as ANALYSIS_DT
    from {{ ref('adsl') }}
    union all
    select
        STUDYID,
        USUBJID,
        'adae' as TABLE_NAME,
        unnest(['ASTDT', 'AENDT']) as COLUMN_NAME,
        unnest([ASTDT, AENDT]) as ANALYSIS_DT
    from {{ ref('adae') }}
    union all
    select
        STUDYID,
        USUBJID,
        'adtte' as TABLE_NAME,
        unnest(['STARTDT', 'ADT']) as COLUMN_NAME,
        unnest([STARTDT, ADT]) as ANALYSIS_DT
    from {{ ref('adtte') }}
    union all
    select
        STUDYID,
        USUBJID,
        'adrs' as TABLE_NAME,
        'ADT' as COLUMN_NAME,
        ADT as ANALYSIS_DT
    from {{ ref('adrs') }}
    union all
    select
        STUDYID,
        USUBJID,
        'adcp' as TABLE_NAME,
        'ADT' as COLUMN_NAME,
        ADT as ANALYSIS_DT
    from {{ ref('adcp') }}
    union all
    select
        STUDYID,
        USUBJID,
        'adgf' as TABLE_NAME,
        'ADT' as COLUMN_NAME,
        ADT as ANALYSIS_DT
    from {{ ref('adgf') }}
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
