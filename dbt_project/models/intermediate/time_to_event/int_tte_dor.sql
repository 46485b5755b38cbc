-- Duration of response, responders (RSP = Y, i.e. confirmed CR/PR), from the
-- first OVR CR or PR (rule: macro progression_or_death): first PD or death;
-- else censored at the last adequate assessment on/after the start (the
-- start itself is one, so the STARTDT fallback does not arise).
{{ progression_or_death(
    subjects="
        select best.STUDYID, best.USUBJID, best.FIRST_RESPONSE_DT as STARTDT, best.FIRST_PD_DT, adsl.DTHDT
        from " ~ ref('int_rs_best_response') ~ " as best
        inner join " ~ ref('adsl') ~ " as adsl
            on adsl.STUDYID = best.STUDYID and adsl.USUBJID = best.USUBJID
        where best.CBOR in ('CR', 'PR')",
    paramcd='DOR',
    param='Duration of Response (days)',
    start_source=("'FIRST RESPONSE (NO ADEQUATE ASSESSMENT)'", "'ADRS'", "'ADT'"),
) }}
