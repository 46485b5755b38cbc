-- Progression-free survival, EFFFL subjects, from TRTSDT: event = first PD
-- (OVR) or death (any death), whichever is first (PD when on the same day);
-- else censored at the last adequate assessment on/after TRTSDT, or at
-- TRTSDT when there is none.
with subjects as (
    select adsl.STUDYID, adsl.USUBJID, adsl.TRTSDT as STARTDT, adsl.DTHDT, best.FIRST_PD_DT
    from {{ ref('adsl') }} as adsl
    left join {{ ref('int_rs_best_response') }} as best
        on best.STUDYID = adsl.STUDYID and best.USUBJID = adsl.USUBJID
    where adsl.EFFFL = 'Y'
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
            when l.LAST_ADEQUATE_DT is not null then 'LAST ADEQUATE ASSESSMENT'
            else 'NO ADEQUATE ASSESSMENT'
        end as OUTCOME
    from subjects as s
    left join last_adequate as l on l.STUDYID = s.STUDYID and l.USUBJID = s.USUBJID
)

select
    STUDYID,
    USUBJID,
    'PFS' as PARAMCD,
    'Progression-Free Survival (days)' as PARAM,
    STARTDT,
    case OUTCOME
        when 'PD' then FIRST_PD_DT
        when 'DEATH' then DTHDT
        when 'LAST ADEQUATE ASSESSMENT' then LAST_ADEQUATE_DT
        else STARTDT
    end as ADT,
    case when OUTCOME in ('PD', 'DEATH') then 0 else 1 end as CNSR,
    case OUTCOME
        when 'PD' then 'DISEASE PROGRESSION'
        when 'DEATH' then 'DEATH'
        else 'NO PROGRESSION OR DEATH'
    end as EVNTDESC,
    case OUTCOME
        when 'LAST ADEQUATE ASSESSMENT' then 'LAST ADEQUATE ASSESSMENT DATE'
        when 'NO ADEQUATE ASSESSMENT' then 'TREATMENT START (NO ADEQUATE ASSESSMENT)'
    end as CNSDTDSC,
    case when OUTCOME in ('PD', 'LAST ADEQUATE ASSESSMENT') then 'ADRS' else 'ADSL' end as SRCDOM,
    case OUTCOME
        when 'PD' then 'ADT'
        when 'DEATH' then 'DTHDT'
        when 'LAST ADEQUATE ASSESSMENT' then 'ADT'
        else 'TRTSDT'
    end as SRCVAR
from outcome
