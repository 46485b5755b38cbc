-- Progression-free survival, EFFFL subjects, from the study's reference date
-- (macro reference_date: TRTSDT, or ENRLDT for a study that counts from
-- randomisation, config REF_DATE) (rule: macro progression_or_death): first
-- PD (OVR) or any death; else censored at the last adequate assessment
-- on/after STARTDT, or at STARTDT when there is none (SRCVAR names which date).
{{ progression_or_death(
    subjects="
        select
            adsl.STUDYID, adsl.USUBJID, " ~ reference_date('s.REF_DATE') ~ " as STARTDT,
            s.REF_DATE, best.FIRST_PD_DT, adsl.DTHDT
        from " ~ ref('adsl') ~ " as adsl
        inner join " ~ ref('stg_config__studies') ~ " as s on s.STUDYID = adsl.STUDYID
        left join " ~ ref('int_rs_best_response') ~ " as best
            on best.STUDYID = adsl.STUDYID and best.USUBJID = adsl.USUBJID
        where adsl.EFFFL = 'Y'",
    paramcd='PFS',
    param='Progression-Free Survival (days)',
    start_source=(
        "case REF_DATE when 'ENRLDT' then 'ENROLMENT (NO ADEQUATE ASSESSMENT)'"
        ~ " else 'TREATMENT START (NO ADEQUATE ASSESSMENT)' end",
        "'ADSL'",
        "REF_DATE",
    ),
) }}
