-- Planned and actual treatment of period 01, one row per subject. The
-- studies have one treatment period, so period 01 is the whole treatment.
--   1. TRT01P: the arm the subject was assigned (randomised) to, DM ARM.
--   2. TRT01PN: that arm's position in the study file (config.study_arms
--      ARMN: 1 for the first listed arm, 2 for the second ...).
--   3. TRT01A / TRT01AN: TRT01P / TRT01PN once the subject was dosed (a first
--      dose date TRTSDT exists), else NULL. The site exports carry no actual
--      arm (no ACTARM), so a dosed subject received the planned arm.
select
    dm.STUDYID,
    dm.USUBJID,
    dm.ARM as TRT01P,
    arms.ARMN as TRT01PN,
    case when exposure.TRTSDT is not null then dm.ARM end as TRT01A,
    case when exposure.TRTSDT is not null then arms.ARMN end as TRT01AN
from {{ ref('int_dm_at_cutoff') }} as dm
left join {{ ref('stg_config__study_arms') }} as arms
    on arms.STUDYID = dm.STUDYID and arms.ARMCD = dm.ARMCD
left join {{ ref('int_subject_exposure') }} as exposure
    on exposure.STUDYID = dm.STUDYID and exposure.USUBJID = dm.USUBJID
