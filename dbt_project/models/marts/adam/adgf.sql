-- ADGF: one row per sample x cell type x gene (derivations in int_gf_expression).
-- ASEQ (macros/adam_conventions.sql) by CELLTYPE, GENE, ADT, GFREFID.
select
    STUDYID,
    USUBJID,
    {{ analysis_sequence_number('CELLTYPE, GENE, ADT nulls last, GFREFID') }} as ASEQ,
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
