-- AE analysis flags and durations on the imputed dates.
-- TRTEMFL: TRTSDT <= ASTDT <= TRTEDT + 30 days (never for an undosed subject).
-- ADRFL: investigator judged the AE possibly/probably/definitely related.
-- ASTDY/AENDY: study day from TRTSDT without day 0.
-- ADURN: AENDT - ASTDT + 1 in days (an AE starting and ending the same day
--   lasts 1 day); NULL while the AE is ongoing.
-- ADURU: 'DAYS' whenever ADURN has a value (ADaM: the unit of ADURN), else NULL.
-- ATOXGRN / ATOXGR (ADaM: the analysis toxicity grade as a number and as text):
--   1. ATOXGRN = AETOXGR, the CTCAE v5.0 grade 1-5 as sent (an integer);
--   2. ATOXGR = the same grade as text ('1'-'5'), as ADaM types ATOXGR.
select
    ae.STUDYID,
    ae.USUBJID,
    ae.AESEQ,
    ae.AETERM,
    ae.AEDECOD,
    ae.AEBODSYS,
    ae.ASTDT,
    ae.ASTDTF,
    ae.AENDT,
    ae.AENDTF,
    {{ study_day('ae.ASTDT', 'adsl.TRTSDT') }} as ASTDY,
    {{ study_day('ae.AENDT', 'adsl.TRTSDT') }} as AENDY,
    {{ days_between('ae.ASTDT', 'ae.AENDT') }} + 1 as ADURN,
    case when ae.ASTDT is not null and ae.AENDT is not null then 'DAYS' end as ADURU,
    cast(ae.AETOXGR as {{ dbt.type_string() }}) as ATOXGR,
    ae.AETOXGR as ATOXGRN,
    ae.AESER,
    ae.AEREL,
    ae.AEOUT,
    ae.AEACN,
    case
        when ae.ASTDT >= adsl.TRTSDT and ae.ASTDT <= adsl.TRTEDT + 30 then 'Y'
    end as TRTEMFL,
    case
        when ae.AEREL in ('POSSIBLY RELATED', 'PROBABLY RELATED', 'DEFINITELY RELATED') then 'Y'
    end as ADRFL
from {{ ref('int_ae_dates') }} as ae
inner join {{ ref('adsl') }} as adsl
    on adsl.STUDYID = ae.STUDYID and adsl.USUBJID = ae.USUBJID
