-- The derived one-per-subject response parameters as long records:
-- BOR, CBOR, RSP (CBOR CR/PR), DCR (CBOR CR/PR/SD), PD (first PD, Y/N).
-- AVAL: responses coded CR 1 PR 2 SD 3 NON-CR/NON-PD 4 PD 5 NE 6; Y/N as 1/0.
-- ADT: date of the qualifying assessment; NULL for N (and for NE without any
-- assessment). ANL01FL = 'Y': these are the records analyses use.
with best as (select * from {{ ref('int_rs_best_response') }}),

long_records as (
    select
        STUDYID,
        USUBJID,
        'BOR' as PARAMCD,
        'Best Overall Response (unconfirmed)' as PARAM,
        BOR as AVALC,
        {{ response_aval('BOR') }} as AVAL,
        BOR_DT as ADT
    from best
    union all
    select
        STUDYID,
        USUBJID,
        'CBOR' as PARAMCD,
        'Best Confirmed Overall Response' as PARAM,
        CBOR as AVALC,
        {{ response_aval('CBOR') }} as AVAL,
        CBOR_DT as ADT
    from best
    union all
    select
        STUDYID,
        USUBJID,
        'RSP' as PARAMCD,
        'Responder (confirmed CR or PR)' as PARAM,
        case when CBOR in ('CR', 'PR') then 'Y' else 'N' end as AVALC,
        case when CBOR in ('CR', 'PR') then 1 else 0 end as AVAL,
        case when CBOR in ('CR', 'PR') then CBOR_DT end as ADT
    from best
    union all
    select
        STUDYID,
        USUBJID,
        'DCR' as PARAMCD,
        'Disease Control (confirmed CR or PR, or SD)' as PARAM,
        case when CBOR in ('CR', 'PR', 'SD') then 'Y' else 'N' end as AVALC,
        case when CBOR in ('CR', 'PR', 'SD') then 1 else 0 end as AVAL,
        case when CBOR in ('CR', 'PR', 'SD') then CBOR_DT end as ADT
    from best
    union all
    select
        STUDYID,
        USUBJID,
        'PD' as PARAMCD,
        'Disease Progression' as PARAM,
        case when FIRST_PD_DT is not null then 'Y' else 'N' end as AVALC,
        case when FIRST_PD_DT is not null then 1 else 0 end as AVAL,
        FIRST_PD_DT as ADT
    from best
)

select
    r.STUDYID,
    r.USUBJID,
    r.PARAMCD,
    r.PARAM,
    r.AVALC,
    r.AVAL,
    r.ADT,
    {{ study_day('r.ADT', 'adsl.TRTSDT') }} as ADY,
    ovr.VISIT,
    ovr.VISITNUM,
    'Y' as ANL01FL
from long_records as r
inner join {{ ref('adsl') }} as adsl on adsl.STUDYID = r.STUDYID and adsl.USUBJID = r.USUBJID
left join {{ ref('int_rs_ovr_analysis') }} as ovr
    on ovr.STUDYID = r.STUDYID and ovr.USUBJID = r.USUBJID and ovr.ADT = r.ADT
