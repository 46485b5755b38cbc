-- Overall survival, ITTFL subjects: from ENRLDT to death (event), else
-- censored at the last known alive date (LSTALVDT, which already ignores
-- dates after the data cut-off).
select
    STUDYID,
    USUBJID,
    'OS' as PARAMCD,
    'Overall Survival (days)' as PARAM,
    ENRLDT as STARTDT,
    coalesce(DTHDT, LSTALVDT, ENRLDT) as ADT,
    case when DTHDT is not null then 0 else 1 end as CNSR,
    case when DTHDT is not null then 'DEATH' else 'ALIVE' end as EVNTDESC,
    case when DTHDT is null then 'LAST KNOWN ALIVE DATE' end as CNSDTDSC,
    'ADSL' as SRCDOM,
    case when DTHDT is not null then 'DTHDT' else 'LSTALVDT' end as SRCVAR
from {{ ref('adsl') }}
where ITTFL = 'Y'
