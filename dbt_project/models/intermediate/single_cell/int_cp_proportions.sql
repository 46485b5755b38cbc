-- Cell-type proportions per biopsy sample (single-cell RNA-seq).
-- AVAL = cells of the type / all cells of the sample (NULL if the sample has
-- no cells). The baseline sample of a subject is its latest BASELINE-visit
-- sample (by date, then sample id; macro baseline_sample) — usually the only
-- one; ABLFL marks it.
-- Data cut-off: the samples as known at it (int_cp_at_cutoff: whole samples).
with samples as (
    select
        *,
        cast(sum(CPSTRESN) over (partition by STUDYID, USUBJID, CPREFID) as bigint) as TOTCELLS
    from {{ ref('int_cp_at_cutoff') }}
),

proportions as (
    select
        *,
        case when TOTCELLS > 0 then CPSTRESN / TOTCELLS end as AVAL
    from samples
),

baseline_sample as (
    {{ baseline_sample('proportions', 'CPREFID', 'CPDT') }}
),

baseline_values as (
    select
        pr.STUDYID,
        pr.USUBJID,
        pr.CPTESTCD,
        pr.AVAL
    from proportions as pr
    inner join baseline_sample as b
        on b.STUDYID = pr.STUDYID and b.USUBJID = pr.USUBJID and b.CPREFID = pr.CPREFID
)

select
    p.STUDYID,
    p.USUBJID,
    p.CPREFID,
    p.VISIT,
    p.VISITNUM,
    p.CPDT as ADT,
    p.CPTESTCD as PARAMCD,
    p.CPTEST as PARAM,
    p.CPSTRESN as CELLS,
    p.TOTCELLS,
    p.AVAL,
    base.AVAL as BASE,
    case when p.VISIT = 'ON TREATMENT' then p.AVAL - base.AVAL end as CHG,
    case when bs.CPREFID is not null then 'Y' end as ABLFL
from proportions as p
left join baseline_sample as bs
    on bs.STUDYID = p.STUDYID and bs.USUBJID = p.USUBJID and bs.CPREFID = p.CPREFID
left join baseline_values as base
    on base.STUDYID = p.STUDYID and base.USUBJID = p.USUBJID and base.CPTESTCD = p.CPTESTCD
