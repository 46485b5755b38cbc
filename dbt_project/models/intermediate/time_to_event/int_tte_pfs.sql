-- Progression-free survival, EFFFL subjects, from TRTSDT (rule: macro
-- progression_or_death): first PD (OVR) or any death; else censored at the
-- last adequate assessment on/after TRTSDT, or at TRTSDT when there is none.
{{ progression_or_death(
    subjects="
        select adsl.STUDYID, adsl.USUBJID, adsl.TRTSDT as STARTDT, best.FIRST_PD_DT, adsl.DTHDT
        from " ~ ref('adsl') ~ " as adsl
        left join " ~ ref('int_rs_best_response') ~ " as best
            on best.STUDYID = adsl.STUDYID and best.USUBJID = adsl.USUBJID
        where adsl.EFFFL = 'Y'",
    paramcd='PFS',
    param='Progression-Free Survival (days)',
    start_source=('TREATMENT START (NO ADEQUATE ASSESSMENT)', 'ADSL', 'TRTSDT'),
) }}
