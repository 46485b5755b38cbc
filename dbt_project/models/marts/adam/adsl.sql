-- ADSL: one row per subject (DM of the current transfers).
with subjects as (
    select
        -- DM's columns ADSL uses; death comes from int_subject_death (DM, else DS).
        dm.STUDYID,
        dm.USUBJID,
        dm.SUBJID,
        dm.SITEID,
        dm.AGE,
        dm.SEX,
        dm.RACE,
        dm.ETHNIC,
        dm.COUNTRY,
        dm.ARM,
        dm.ARMCD,
        dm.RFICDT,
        dm.ENRLDT,
        exposure.TRTSDT,
        exposure.TRTEDT,
        death.DTHDT,
        case when dm.ENRLDT is not null then 'Y' else 'N' end as ITTFL,
        case when exposure.TRTSDT is not null then 'Y' else 'N' end as SAFFL,
        baseline.HAS_BASELINE_TARGET
    from {{ ref('int_dm_at_cutoff') }} as dm
    left join {{ ref('int_subject_exposure') }} as exposure
        on exposure.STUDYID = dm.STUDYID and exposure.USUBJID = dm.USUBJID
    left join {{ ref('int_subject_death') }} as death
        on death.STUDYID = dm.STUDYID and death.USUBJID = dm.USUBJID
    left join {{ ref('int_subject_baseline') }} as baseline
        on baseline.STUDYID = dm.STUDYID and baseline.USUBJID = dm.USUBJID
)

select
    subjects.STUDYID,
    subjects.USUBJID,
    subjects.SUBJID,
    subjects.SITEID,
    subjects.AGE,
    subjects.SEX,
    subjects.RACE,
    subjects.ETHNIC,
    subjects.COUNTRY,
    subjects.ARM,
    subjects.ARMCD,
    treatment.TRT01P,
    treatment.TRT01PN,
    treatment.TRT01A,
    treatment.TRT01AN,
    baseline.ECOG,
    baseline.CHILDPGH,
    baseline.BCLC,
    baseline.ETIOLOGY,
    baseline.PRIORSYS,
    baseline.MVI,
    baseline.EHS,
    baseline.AFPBL,
    subjects.RFICDT,
    subjects.ENRLDT,
    subjects.TRTSDT,
    subjects.TRTEDT,
    subjects.DTHDT,
    case when subjects.DTHDT is not null then 'Y' end as DTHFL,
    last_alive.LSTALVDT,
    disposition.EOTSTT,
    disposition.DCTREAS,
    subjects.ITTFL,
    subjects.SAFFL,
    case when subjects.SAFFL = 'Y' and subjects.HAS_BASELINE_TARGET then 'Y' else 'N' end as EFFFL
from subjects
left join {{ ref('int_subject_baseline') }} as baseline
    on baseline.STUDYID = subjects.STUDYID and baseline.USUBJID = subjects.USUBJID
left join {{ ref('int_subject_last_alive') }} as last_alive
    on last_alive.STUDYID = subjects.STUDYID and last_alive.USUBJID = subjects.USUBJID
left join {{ ref('int_subject_disposition') }} as disposition
    on disposition.STUDYID = subjects.STUDYID and disposition.USUBJID = subjects.USUBJID
left join {{ ref('int_subject_treatment') }} as treatment
    on treatment.STUDYID = subjects.STUDYID and treatment.USUBJID = subjects.USUBJID
