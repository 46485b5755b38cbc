-- One overall response (OVRLRESP) per subject and assessment date, by the
-- study's evaluator (config RSEVAL). Several assessments on one date keep the
-- worst (NE < CR < PR < SD < NON-CR/NON-PD < PD); VISIT/VISITNUM come from the
-- kept record (lowest VISITNUM among equally bad ones), and so does RECORD_KEY
-- (the loader's record key of that RS row, for data-review findings).
-- Data cut-off: RS as known at it (int_rs_at_cutoff).
with ranked as (
    select
        rs.STUDYID,
        rs.USUBJID,
        rs.RSDT as ADT,
        rs.VISIT,
        rs.VISITNUM,
        rs.RSSTRESC as ORRESP,
        rs.RECORD_KEY,
        row_number() over (
            partition by rs.STUDYID, rs.USUBJID, rs.RSDT
            order by {{ worst_of_day_rank('rs.RSSTRESC') }} desc, rs.VISITNUM nulls last
        ) as DAY_RANK
    from {{ ref('int_rs_at_cutoff') }} as rs
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = rs.STUDYID
    where
        rs.RSTESTCD = 'OVRLRESP'
        and rs.RSEVAL = s.RSEVAL
)

select
    STUDYID,
    USUBJID,
    ADT,
    VISIT,
    VISITNUM,
    ORRESP,
    RECORD_KEY
from ranked
where DAY_RANK = 1
