-- Date of death per subject: DM DTHDTC, else the DS DEATH date.
-- SS DEAD is only the day death became known, never a date of death.
-- A DS DEATH record may sit under END OF TREATMENT and END OF STUDY; both are
-- dates of death, the earliest is taken (a disagreement is a review finding).
-- Data cut-off: a death after it is not known at the cut-off, so ignored.
with dm_death as (
    select
        dm.STUDYID,
        dm.USUBJID,
        dm.DTHDT as DM_DTHDT
    from {{ ref('stg_site__dm') }} as dm
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = dm.STUDYID
    where dm.DTHDT is not null and {{ on_or_before_cutoff('dm.DTHDT', 's.DATA_CUTOFF') }}
),

ds_death as (
    select
        ds.STUDYID,
        ds.USUBJID,
        min(ds.DSSTDT) as DS_DTHDT
    from {{ ref('stg_site__ds') }} as ds
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = ds.STUDYID
    where ds.DSDECOD = 'DEATH' and {{ on_or_before_cutoff('ds.DSSTDT', 's.DATA_CUTOFF') }}
    group by ds.STUDYID, ds.USUBJID
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
