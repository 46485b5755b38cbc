-- Last known alive date: latest COMPLETE date among ENRLDT, SS ALIVE contacts,
-- EX start/end, AE start/end, LB, TR, RS and non-death DS dates; never after
-- the date of death. Data cut-off: the records as known at it, so never after
-- it (an EX or AE end after the cut-off is not known at it).
with candidate_dates as (
    select
        STUDYID,
        USUBJID,
        ENRLDT as ALIVE_DT
    from {{ ref('int_dm_at_cutoff') }}
    union all
    select
        STUDYID,
        USUBJID,
        SSDT as ALIVE_DT
    from {{ ref('int_ss_at_cutoff') }}
    where SSSTRESC = 'ALIVE'
    union all
    select
        STUDYID,
        USUBJID,
        EXSTDT as ALIVE_DT
    from {{ ref('int_ex_at_cutoff') }}
    union all
    select
        STUDYID,
        USUBJID,
        EXENDT as ALIVE_DT
    from {{ ref('int_ex_at_cutoff') }}
    union all
    select
        STUDYID,
        USUBJID,
        {{ complete_date_or_null('AESTDTC') }} as ALIVE_DT
    from {{ ref('int_ae_at_cutoff') }}
    union all
    select
        STUDYID,
        USUBJID,
        {{ complete_date_or_null('AEENDTC') }} as ALIVE_DT
    from {{ ref('int_ae_at_cutoff') }}
    union all
    select
        STUDYID,
        USUBJID,
        LBDT as ALIVE_DT
    from {{ ref('int_lb_at_cutoff') }}
    union all
    select
        STUDYID,
        USUBJID,
        TRDT as ALIVE_DT
    from {{ ref('int_tr_at_cutoff') }}
    union all
    select
        STUDYID,
        USUBJID,
        RSDT as ALIVE_DT
    from {{ ref('int_rs_at_cutoff') }}
    union all
    select
        STUDYID,
        USUBJID,
        DSSTDT as ALIVE_DT
    from {{ ref('int_ds_at_cutoff') }}
    where DSDECOD <> 'DEATH'
),

latest as (
    select
        STUDYID,
        USUBJID,
        max(ALIVE_DT) as LATEST_DT
    from candidate_dates
    where ALIVE_DT is not null
    group by STUDYID, USUBJID
)

select
    latest.STUDYID,
    latest.USUBJID,
    case
        when death.DTHDT is not null and latest.LATEST_DT > death.DTHDT then death.DTHDT
        else latest.LATEST_DT
    end as LSTALVDT
from latest
left join {{ ref('int_subject_death') }} as death
    on death.STUDYID = latest.STUDYID and death.USUBJID = latest.USUBJID
