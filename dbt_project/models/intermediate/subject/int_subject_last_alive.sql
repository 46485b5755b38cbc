-- Last known alive date: latest COMPLETE date among ENRLDT, SS ALIVE contacts,
-- EX start/end, AE start/end, LB, TR, RS and non-death DS dates; never after
-- the date of death; dates after the data cut-off are ignored.
with candidate_dates as (
    select
        STUDYID,
        USUBJID,
        ENRLDT as ALIVE_DT
    from {{ ref('stg_site__dm') }}
    union all
    select
        STUDYID,
        USUBJID,
        SSDT as ALIVE_DT
    from {{ ref('stg_site__ss') }}
    where SSSTRESC = 'ALIVE'
    union all
    select
        STUDYID,
        USUBJID,
        EXSTDT as ALIVE_DT
    from {{ ref('stg_site__ex') }}
    union all
    select
        STUDYID,
        USUBJID,
        EXENDT as ALIVE_DT
    from {{ ref('stg_site__ex') }}
    union all
    select
        STUDYID,
        USUBJID,
        {{ complete_date_or_null('AESTDTC') }} as ALIVE_DT
    from {{ ref('stg_site__ae') }}
    union all
    select
        STUDYID,
        USUBJID,
        {{ complete_date_or_null('AEENDTC') }} as ALIVE_DT
    from {{ ref('stg_site__ae') }}
    union all
    select
        STUDYID,
        USUBJID,
        LBDT as ALIVE_DT
    from {{ ref('stg_site__lb') }}
    union all
    select
        STUDYID,
        USUBJID,
        TRDT as ALIVE_DT
    from {{ ref('stg_site__tr') }}
    union all
    select
        STUDYID,
        USUBJID,
        RSDT as ALIVE_DT
    from {{ ref('stg_site__rs') }}
    union all
    select
        STUDYID,
        USUBJID,
        DSSTDT as ALIVE_DT
    from {{ ref('stg_site__ds') }}
    where DSDECOD <> 'DEATH'
),

latest as (
    select
        c.STUDYID,
        c.USUBJID,
        max(c.ALIVE_DT) as LATEST_DT
    from candidate_dates as c
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = c.STUDYID
    where c.ALIVE_DT is not null and {{ on_or_before_cutoff('c.ALIVE_DT', 's.DATA_CUTOFF') }}
    group by c.STUDYID, c.USUBJID
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
