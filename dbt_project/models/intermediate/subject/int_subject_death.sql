-- Date of death per subject: DM DTHDTC, else the DS DEATH date.
-- SS DEAD is only the day death became known, never a date of death.
-- A DS DEATH record may sit under END OF TREATMENT and END OF STUDY; both are
-- dates of death, the earliest is taken (a disagreement is a review finding).
-- Data cut-off: DM and DS as known at it (a death after it is not known, so
-- the subject was alive at the cut-off).
with dm_death as (
    select
        STUDYID,
        USUBJID,
        DTHDT as DM_DTHDT
    from {{ ref('int_dm_at_cutoff') }}
    where DTHDT is not null
),

ds_death as (
    select
        STUDYID,
        USUBJID,
        min(DSSTDT) as DS_DTHDT
    from {{ ref('int_ds_at_cutoff') }}
    where DSDECOD = 'DEATH'
    group by STUDYID, USUBJID
)

select
    coalesce(dm_death.STUDYID, ds_death.STUDYID) as STUDYID,
    coalesce(dm_death.USUBJID, ds_death.USUBJID) as USUBJID,
    dm_death.DM_DTHDT,
    ds_death.DS_DTHDT,
    coalesce(dm_death.DM_DTHDT, ds_death.DS_DTHDT) as DTHDT
from dm_death
full outer join ds_death
    on ds_death.STUDYID = dm_death.STUDYID and ds_death.USUBJID = dm_death.USUBJID
