-- ADCP: one row per sample x cell type (derivations in int_cp_proportions).
-- ASEQ (macros/adam_conventions.sql) by PARAMCD, ADT, CPREFID.
select
    STUDYID,
    USUBJID,
    {{ analysis_sequence_number('PARAMCD, ADT nulls last, CPREFID') }} as ASEQ,
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
