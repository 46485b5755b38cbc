{#
  The PFS and DOR rule, in one place (analysis-tables.md, ADTTE):
  event = first PD (OVR) or death, whichever is first (PD when both fall on
  one day); else censored at the last adequate assessment (OVR CR, PR, SD or
  NON-CR/NON-PD) on/after STARTDT; else (no adequate assessment) at STARTDT.
  AVAL is added by adtte (ADT - STARTDT + 1).

  subjects: SQL selecting STUDYID, USUBJID, STARTDT, FIRST_PD_DT, DTHDT
            (one row per population member), and any column start_source uses.
  start_source: SQL expressions over the subjects columns giving
            (CNSDTDSC, SRCDOM, SRCVAR) of STARTDT, for the censoring at STARTDT.
#}
{% macro progression_or_death(subjects, paramcd, param, start_source) %}
with subjects as (
    {{ subjects }}
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
    '{{ paramcd }}' as PARAMCD,
    '{{ param }}' as PARAM,
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
        when 'NO ADEQUATE ASSESSMENT' then {{ start_source[0] }}
    end as CNSDTDSC,
    case OUTCOME
        when 'PD' then 'ADRS'
        when 'LAST ADEQUATE ASSESSMENT' then 'ADRS'
        when 'DEATH' then 'ADSL'
        else {{ start_source[1] }}
    end as SRCDOM,
    case OUTCOME
        when 'PD' then 'ADT'
        when 'DEATH' then 'DTHDT'
        when 'LAST ADEQUATE ASSESSMENT' then 'ADT'
        else {{ start_source[2] }}
    end as SRCVAR
from outcome
{% endmacro %}
