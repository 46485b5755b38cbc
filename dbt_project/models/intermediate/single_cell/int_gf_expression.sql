-- A view (read once, by adgf): see int_gf_at_cutoff.
{{ config(materialized='view') }}
-- Gene expression per sample x cell type x gene, with the subject's baseline.
-- AVAL = GFSTRESN (mean normalised expression, LOG1P CPM). The baseline sample
-- is chosen exactly as for cell proportions (latest BASELINE-visit sample).
-- Data cut-off: the samples as known at it (int_gf_at_cutoff: whole samples,
-- the same as int_cp_at_cutoff's).
with expression as (
    select * from {{ ref('int_gf_at_cutoff') }}
),

-- The samples are ranked, not their rows: a sample has a row per cell type and
-- gene (~350 a sample), and ranking them all cost ~0.7 s of CPU a portfolio night.
baseline_visit_samples as (
    select distinct
        STUDYID,
        USUBJID,
        GFREFID,
        GFDT
    from expression
    where VISIT = 'BASELINE'
),

ranked_baseline_samples as (
    select
        STUDYID,
        USUBJID,
        GFREFID,
        dense_rank() over (partition by STUDYID, USUBJID order by GFDT desc, GFREFID desc) as SAMPLE_RANK
    from baseline_visit_samples
),

baseline_sample as (
    select distinct
        STUDYID,
        USUBJID,
        GFREFID
    from ranked_baseline_samples
    where SAMPLE_RANK = 1
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
