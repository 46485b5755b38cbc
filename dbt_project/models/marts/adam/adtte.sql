-- ADTTE: one row per subject x parameter, population members only.
-- AVAL = ADT - STARTDT + 1 days.
with events as (
    select * from {{ ref('int_tte_os') }}
    union all
    select * from {{ ref('int_tte_pfs') }}
    union all
    select * from {{ ref('int_tte_dor') }}
)

select
    STUDYID,
    USUBJID,
    PARAMCD,
    PARAM,
    STARTDT,
    ADT,
    date_diff('day', STARTDT, ADT) + 1 as AVAL,
    CNSR,
    EVNTDESC,
    CNSDTDSC,
    SRCDOM,
    SRCVAR
from events
