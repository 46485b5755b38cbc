-- Duration of response, responders (RSP = Y, i.e. confirmed CR/PR), from the
-- first OVR CR or PR: event = first PD or death, whichever is first (PD when
-- on the same day); else censored at the last adequate assessment on/after
-- the start (the start itself is one).
with subjects as (
    select
        best.STUDYID,
        best.USUBJID,
        best.FIRST_RESPONSE_DT as STARTDT,
        best.FIRST_PD_DT,
        adsl.DTHDT
    from {{ ref('int_rs_best_response') }} as best
    inner join {{ ref('adsl') }} as adsl
        on adsl.STUDYID = best.STUDYID and adsl.USUBJID = best.USUBJID
    where best.CBOR in ('CR', 'PR')
),

last_adequate as (
    select s.STUDYID, s.USUBJID, max(a.ADT) as LAST_ADEQUATE_DT
    from subjects as s
    inner join {{ ref('int_tte_last_adequate_assessment') }} as a
        on a.STUDYID = s.STUDYID and a.USUBJID = s.USUBJID and a.ADT >= s.STARTDT
    group by s.STUDYID, s.USUBJID
),

outcome as (
    select
        s.*,
        l.LAST_ADEQUATE_DT,
        case
            when s.FIRST_PD_DT is not null and (s.DTHDT is null or s.FIRST_PD_DT <= s.DTHDT) then 'PD'
            when s.DTHDT is not null then 'DEATH'
            else 'CENSORED'
        end as OUTCOME
    from subjects as s
    left join last_adequate as l on l.STUDYID = s.STUDYID and l.USUBJID = s.USUBJID
)

select
    STUDYID,
    USUBJID,
    'DOR' as PARAMCD,
    'Duration of Response (days)' as PARAM,
    STARTDT,
    case OUTCOME when 'PD' then FIRST_PD_DT when 'DEATH' then DTHDT else LAST_ADEQUATE_DT end as ADT,
    case when OUTCOME = 'CENSORED' then 1 else 0 end as CNSR,
    case OUTCOME
        when 'PD' then 'DISEASE PROGRESSION'
        when 'DEATH' then 'DEATH'
        else 'NO PROGRESSION OR DEATH'
    end as EVNTDESC,
    case when OUTCOME = 'CENSORED' then 'LAST ADEQUATE ASSESSMENT DATE' end as CNSDTDSC,
    case when OUTCOME = 'DEATH' then 'ADSL' else 'ADRS' end as SRCDOM,
    case when OUTCOME = 'DEATH' then 'DTHDT' else 'ADT' end as SRCVAR
from outcome
