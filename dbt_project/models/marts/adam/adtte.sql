-- ADTTE: one row per subject x parameter, population members only.
-- AVAL = ADT - STARTDT + 1 days.
-- ADaM conventions (macros/adam_conventions.sql): ADSL variables carried,
-- TRTP/TRTA, ASEQ by PARAMCD (admiral's ADTTE order).
-- SRCSEQ: the ADRS record the date comes from, as admiralonco's ADTTE sets it
-- (SRCSEQ = ASEQ of the source record):
--   1. SRCDOM ADRS and an event (CNSR 0): the first PD, i.e. the ADRS PD
--      record (PARAMCD 'PD', its ADT = the PD date);
--   2. SRCDOM ADRS and censored: the last adequate assessment, i.e. the ADRS
--      OVR record of that date;
--   3. SRCDOM ADSL (death, last known alive, treatment start): NULL, ADSL has
--      one record per subject and no sequence number.
with events as (
    select * from {{ ref('int_tte_os') }}
    union all
    select * from {{ ref('int_tte_pfs') }}
    union all
    select * from {{ ref('int_tte_dor') }}
),

sequenced as (
    select
        *,
        {{ analysis_sequence_number('PARAMCD') }} as ASEQ
    from events
)

select
    e.STUDYID,
    e.USUBJID,
    {{ adsl_carried_variables('adsl') }},
    e.ASEQ,
    {{ period_treatment('adsl') }},
    e.PARAMCD,
    e.PARAM,
    e.STARTDT,
    e.ADT,
    {{ days_between('e.STARTDT', 'e.ADT') }} + 1 as AVAL,
    e.CNSR,
    e.EVNTDESC,
    e.CNSDTDSC,
    e.SRCDOM,
    e.SRCVAR,
    source_record.ASEQ as SRCSEQ
from sequenced as e
left join {{ ref('adsl') }} as adsl
    on adsl.STUDYID = e.STUDYID and adsl.USUBJID = e.USUBJID
left join {{ ref('adrs') }} as source_record
    on
        e.SRCDOM = 'ADRS'
        and source_record.STUDYID = e.STUDYID
        and source_record.USUBJID = e.USUBJID
        and source_record.ADT = e.ADT
        and source_record.PARAMCD = case when e.CNSR = 0 then 'PD' else 'OVR' end
