-- The post-baseline tumour assessment dates of dosed subjects, one row per
-- subject and date: every date after TRTSDT that has a TR row, a TU NEW
-- lesion or an investigator overall response (config RSEVAL). Taking the RS
-- dates too means an investigator response without any measurement gets a
-- RECIST timepoint (NE: no target lesion measured), which data_review_findings
-- then shows. Dates on or before TRTSDT are the baseline, not an assessment.
-- VISIT/VISITNUM: from the record with the lowest VISITNUM on that date (TR,
-- then RS; a date known only from a NEW lesion has TU's VISIT and no VISITNUM).
-- Data cut-off: TR, RS and TU as known at it (int_<domain>_at_cutoff).
with subjects as (
    select
        adsl.STUDYID,
        adsl.USUBJID,
        adsl.TRTSDT,
        s.RSEVAL
    from {{ ref('adsl') }} as adsl
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = adsl.STUDYID
    where adsl.SAFFL = 'Y'
),

dated_records as (
    select
        STUDYID,
        USUBJID,
        TRDT as ADT,
        VISIT,
        VISITNUM,
        1 as SOURCE_ORDER
    from {{ ref('int_tr_at_cutoff') }}
    union all
    select
        rs.STUDYID,
        rs.USUBJID,
        rs.RSDT as ADT,
        rs.VISIT,
        rs.VISITNUM,
        2 as SOURCE_ORDER
    from {{ ref('int_rs_at_cutoff') }} as rs
    inner join subjects
        on subjects.STUDYID = rs.STUDYID and subjects.USUBJID = rs.USUBJID
    where rs.RSTESTCD = 'OVRLRESP' and rs.RSEVAL = subjects.RSEVAL
    union all
    select
        STUDYID,
        USUBJID,
        TUDT as ADT,
        VISIT,
        null as VISITNUM,
        3 as SOURCE_ORDER
    from {{ ref('int_tu_at_cutoff') }}
    where TUORRES = 'NEW'
),

ranked as (
    select
        d.STUDYID,
        d.USUBJID,
        d.ADT,
        d.VISIT,
        d.VISITNUM,
        subjects.TRTSDT,
        row_number() over (
            partition by d.STUDYID, d.USUBJID, d.ADT
            order by d.SOURCE_ORDER, d.VISITNUM nulls last, d.VISIT nulls last
        ) as DATE_RANK
    from dated_records as d
    inner join subjects on subjects.STUDYID = d.STUDYID and subjects.USUBJID = d.USUBJID
    where d.ADT > subjects.TRTSDT
)

select
    STUDYID,
    USUBJID,
    ADT,
    VISIT,
    VISITNUM,
    TRTSDT
from ranked
where DATE_RANK = 1
