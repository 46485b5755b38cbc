-- End-of-treatment status from DS END OF TREATMENT: a record (any DSDECOD,
-- COMPLETED included) means DISCONTINUED with DSDECOD as the reason; none means
-- ONGOING for a dosed subject and NULL for a subject never dosed.
-- Data cut-off: DS as known at it (an end of treatment after it is not known).
with end_of_treatment as (
    select
        STUDYID,
        USUBJID,
        DSDECOD
    from {{ ref('int_ds_at_cutoff') }}
    where DSSCAT = 'END OF TREATMENT'
)

select
    dm.STUDYID,
    dm.USUBJID,
    case
        when eot.USUBJID is not null then 'DISCONTINUED'
        when exposure.TRTSDT is not null then 'ONGOING'
    end as EOTSTT,
    eot.DSDECOD as DCTREAS
from {{ ref('int_dm_at_cutoff') }} as dm
left join end_of_treatment as eot
    on eot.STUDYID = dm.STUDYID and eot.USUBJID = dm.USUBJID
left join {{ ref('int_subject_exposure') }} as exposure
    on exposure.STUDYID = dm.STUDYID and exposure.USUBJID = dm.USUBJID
