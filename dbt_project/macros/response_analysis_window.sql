{#- Analysis window of per-date overall responses (ANL01FL), for OVR and
    OVRRECIS alike: SAFFL subjects, assessments on or after the study's
    reference date (config REF_DATE: TRTSDT or ENRLDT) up to and including the
    first PD on/after it. Carries the per-study response parameters the
    best-response rules need.

    `timepoints` is a relation with STUDYID USUBJID ADT VISIT VISITNUM ORRESP
    AVALC MRKREAS (the output of apply_cr_marker_rule). -#}
{% macro response_analysis_window(timepoints) -%}
with timepoints as (
    select
        m.*,
        adsl.SAFFL,
        adsl.TRTSDT,
        {{ reference_date('s.REF_DATE') }} as REFDT,
        s.CONFIRM_DAYS,
        s.SD_MIN_DAYS
    from {{ timepoints }} as m
    inner join {{ ref('adsl') }} as adsl
        on adsl.STUDYID = m.STUDYID and adsl.USUBJID = m.USUBJID
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = m.STUDYID
),

with_first_pd as (
    select
        *,
        min(case when AVALC = 'PD' and ADT >= REFDT then ADT end)
            over (partition by STUDYID, USUBJID) as FIRST_PD_DT
    from timepoints
)

select
    STUDYID,
    USUBJID,
    ADT,
    {{ study_day('ADT', 'TRTSDT') }} as ADY,
    VISIT,
    VISITNUM,
    ORRESP,
    AVALC,
    MRKREAS,
    case
        when SAFFL = 'Y' and ADT >= REFDT and (FIRST_PD_DT is null or ADT <= FIRST_PD_DT) then 'Y'
    end as ANL01FL,
    REFDT,
    CONFIRM_DAYS,
    SD_MIN_DAYS
from with_first_pd
{%- endmacro %}
