-- ADGF: one row per sample x cell type x gene (derivations in int_gf_expression).
select
    STUDYID,
    USUBJID,
    GFREFID,
    VISIT,
    VISITNUM,
    ADT,
    CELLTYPE,
    GENE,
    AVAL,
    BASE,
    CHG,
    ABLFL
from {{ ref('int_gf_expression') }}
