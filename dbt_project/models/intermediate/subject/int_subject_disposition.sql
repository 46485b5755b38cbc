-- End-of-treatment status from DS END OF TREATMENT: a record (any DSDECOD,
-- COMPLETED included) means DISCONTINUED with DSDECOD as the reason; none means
-- ONGOING for a dosed subject and NULL for a subject never dosed.
-- A record dated after the data cut-off is not known at the cut-off.
with end_of_treatment as (
    select
        ds.STUDYID,
        ds.USUBJID,
        ds.DSDECOD
    from {{ ref('stg_site__ds') }} as ds
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = ds.STUDYID
    where ds.DSSCAT = 'END OF TREATMENT' and {{ on_or_before_cutoff('ds.DSSTDT', 's.DATA_CUTOFF') }}
)

select
    dm.STUDYID,
    dm.USUBJID,
    case
        when eot.USUBJID is not null then 'DISCONTINUED'
        when exposure.TRTSDT is not null then 'ONGOING'
    end as EOTSTT,
    eot.DSDECOD as DCTREAS
from {{ ref('stg_site__dm') }} as dm
left join end_of_treatment as eot
    on eot.STUDYID = dm.STUDYID and eot.USUBJID = dm.USUBJID
left join {{ ref('int_subject_exposure') }} as exposure
    on exposure.STUDYID = dm.STUDYID and exposure.USUBJID = dm.USUBJID
