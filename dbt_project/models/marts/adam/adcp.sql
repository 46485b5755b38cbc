-- ADCP: one row per sample x cell type (derivations in int_cp_proportions).
select
    STUDYID,
    USUBJID,
    CPREFID,
    VISIT,
    VISITNUM,
    ADT,
    PARAMCD,
    PARAM,
    CELLS,
    TOTCELLS,
    AVAL,
    BASE,
    CHG,
    ABLFL
from {{ ref('int_cp_proportions') }}
