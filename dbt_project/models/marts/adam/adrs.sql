-- ADRS: overall response per assessment date (OVR, after the CR marker rule)
-- and the derived subject-level parameters (int_rs_subject_parameters).
-- OVRRECIS (warehouse RECIST 1.1 from TU/TR) is not derived yet: no rows.
select
    STUDYID,
    USUBJID,
    'OVR' as PARAMCD,
    'Overall Response' as PARAM,
    AVALC,
    {{ response_aval('AVALC') }} as AVAL,
    ADT,
    ADY,
    VISIT,
    VISITNUM,
    ANL01FL,
    ORRESP,
    MRKREAS
from {{ ref('int_rs_ovr_analysis') }}
union all
select
    STUDYID,
    USUBJID,
    PARAMCD,
    PARAM,
    AVALC,
    AVAL,
    ADT,
    ADY,
    VISIT,
    VISITNUM,
    ANL01FL,
    null as ORRESP,
    null as MRKREAS
from {{ ref('int_rs_subject_parameters') }}
