-- ADAE: one row per adverse event (derivations in int_ae_dates / int_ae_derived).
select
    STUDYID,
    USUBJID,
    AESEQ,
    AETERM,
    AEDECOD,
    AEBODSYS,
    ASTDT,
    ASTDTF,
    AENDT,
    AENDTF,
    ASTDY,
    AENDY,
    ADURN,
    cast(ATOXGR as integer) as ATOXGR,
    AESER,
    AEREL,
    AEOUT,
    AEACN,
    TRTEMFL,
    ADRFL
from {{ ref('int_ae_derived') }}
