-- Treatment start/end per subject from EX.
-- TRTSDT = first EXSTDT; TRTEDT = latest coalesce(EXENDT, EXSTDT): an ongoing
-- period (no EXENDT) contributes its start date, the last date dosing is known.
-- Data cut-off: periods starting after it are ignored, ends are capped at it.
with periods as (
    select
        ex.STUDYID,
        ex.USUBJID,
        ex.EXTRT,
        ex.EXSTDT,
        case
            when s.DATA_CUTOFF is not null and coalesce(ex.EXENDT, ex.EXSTDT) > s.DATA_CUTOFF
                then s.DATA_CUTOFF
            else coalesce(ex.EXENDT, ex.EXSTDT)
        end as LAST_DOSE_KNOWN_DT
    from {{ ref('stg_site__ex') }} as ex
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = ex.STUDYID
    where {{ on_or_before_cutoff('ex.EXSTDT', 's.DATA_CUTOFF') }}
)

select
    STUDYID,
    USUBJID,
    min(EXSTDT) as TRTSDT,
    max(LAST_DOSE_KNOWN_DT) as TRTEDT,
    count(*) as N_EXPOSURE_PERIODS
from periods
group by STUDYID, USUBJID
