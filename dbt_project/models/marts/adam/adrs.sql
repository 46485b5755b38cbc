-- ADRS: overall response per assessment date (OVR: investigator, after the CR
-- marker rule; OVRRECIS: RECIST 1.1 computed by the warehouse from TU/TR,
-- after the same rule) and the derived subject-level parameters
-- (int_rs_subject_parameters, from OVR).
-- ADaM conventions (macros/adam_conventions.sql): ADSL variables carried,
-- TRTP/TRTA, ASEQ by PARAMCD, ADT, AVISITN (admiralonco's ADRS order).
-- AVISIT/AVISITN: the analysis visit is the visit of the assessment (OVR: the
-- RS record kept for the date; OVRRECIS: the scan's visit; derived parameters:
-- the qualifying assessment's). Assessments are analysed by date, with no
-- visit windows, so AVISIT = VISIT; VISIT/VISITNUM stay as the SDTM timing of
-- the source record (with USUBJID they find the RS record, which has no RSSEQ).
-- SRCDOM/SRCVAR: an OVR record is one RS OVRLRESP record (RSSTRESC); the other
-- parameters are derived from several records and have none.
with records as (
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
        MRKREAS,
        'RS' as SRCDOM,
        'RSSTRESC' as SRCVAR
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
        MRKREAS,
        null as SRCDOM,
        null as SRCVAR
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
        null as MRKREAS,
        null as SRCDOM,
        null as SRCVAR
    from {{ ref('int_rs_subject_parameters') }}
),

sequenced as (
    select
        *,
        {{ analysis_sequence_number('PARAMCD, ADT nulls last, VISITNUM nulls last') }} as ASEQ
    from records
)

select
    r.STUDYID,
    r.USUBJID,
    {{ adsl_carried_variables('adsl') }},
    r.ASEQ,
    {{ period_treatment('adsl') }},
    r.PARAMCD,
    r.PARAM,
    r.AVALC,
    r.AVAL,
    r.ADT,
    r.ADY,
    r.VISIT as AVISIT,
    r.VISITNUM as AVISITN,
    r.VISIT,
    r.VISITNUM,
    r.ANL01FL,
    r.ORRESP,
    r.MRKREAS,
    r.SRCDOM,
    r.SRCVAR
from sequenced as r
left join {{ ref('adsl') }} as adsl
    on adsl.STUDYID = r.STUDYID and adsl.USUBJID = r.USUBJID
