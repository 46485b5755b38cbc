-- Treatment start/end per subject from EX.
-- TRTSDT = first EXSTDT; TRTEDT = latest coalesce(EXENDT, EXSTDT): an ongoing
-- period (no EXENDT) contributes its start date, the last date dosing is known.
-- Data cut-off: EX as known at it (int_ex_at_cutoff: periods started by then; a
-- period ending after it is ongoing, so it contributes its start), so TRTEDT is
-- never after the cut-off.
select
    STUDYID,
    USUBJID,
    min(EXSTDT) as TRTSDT,
    max(coalesce(EXENDT, EXSTDT)) as TRTEDT,
    count(*) as N_EXPOSURE_PERIODS
from {{ ref('int_ex_at_cutoff') }}
group by STUDYID, USUBJID
