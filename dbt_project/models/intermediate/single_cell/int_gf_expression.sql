-- A view (read once, by adgf): see int_gf_at_cutoff.
{{ config(materialized='view') }}
-- Gene expression per sample x cell type x gene, with the subject's baseline.
-- AVAL = GFSTRESN (mean normalised expression, LOG1P CPM). The baseline sample
-- is chosen as for cell proportions (macro baseline_sample: the latest
-- BASELINE-visit sample by date, then sample id).
-- Data cut-off: the samples as known at it (int_gf_at_cutoff: whole samples,
-- the same as int_cp_at_cutoff's).
with expression as (
    select * from {{ ref('int_gf_at_cutoff') }}
),

baseline_sample as (
    {{ baseline_sample('expression', 'GFREFID', 'GFDT') }}
),

baseline_values as (
    select
        e.STUDYID,
        e.USUBJID,
        e.GFCELLTY,
        e.GFGENSY,
        e.GFSTRESN as BASE
    from expression as e
    inner join baseline_sample as b
        on b.STUDYID = e.STUDYID and b.USUBJID = e.USUBJID and b.GFREFID = e.GFREFID
)

select
    e.STUDYID,
    e.USUBJID,
    e.GFREFID,
    e.VISIT,
    e.VISITNUM,
    e.GFDT as ADT,
    e.GFCELLTY as CELLTYPE,
    e.GFGENSY as GENE,
    e.GFSTRESN as AVAL,
    bv.BASE,
    case when e.VISIT = 'ON TREATMENT' then e.GFSTRESN - bv.BASE end as CHG,
    case when bs.GFREFID is not null then 'Y' end as ABLFL
from expression as e
left join baseline_sample as bs
    on bs.STUDYID = e.STUDYID and bs.USUBJID = e.USUBJID and bs.GFREFID = e.GFREFID
left join baseline_values as bv
    on
        bv.STUDYID = e.STUDYID and bv.USUBJID = e.USUBJID
        and bv.GFCELLTY = e.GFCELLTY and bv.GFGENSY = e.GFGENSY
