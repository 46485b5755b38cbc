-- ADRS: overall response per assessment date (OVR: investigator, after the CR
-- marker rule; OVRRECIS: RECIST 1.1 computed by the warehouse from TU/TR,
-- after the same rule) and the derived subject-level parameters
-- (int_rs_subject_parameters, from OVR).
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
    'OVRRECIS' as PARAMCD,
    'Overall Response by RECIST 1.1 (derived from TU/TR)' as PARAM,
    AVALC,
    {{ response_aval('AVALC') }} as AVAL,
    ADT,
    ADY,
    VISIT,
    VISITNUM,
    ANL01FL,
    ORRESP,
    MRKREAS
from {{ ref('int_rs_ovr_recist_analysis') }}
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
