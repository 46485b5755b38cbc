-- Single-cell biopsy samples (CPREFID = GFREFID) and the date by which each is
-- judged at the data cut-off: the latest CPDTC/GFDTC of its rows (one date in
-- consistent data). A sample is cut whole (int_cp_at_cutoff, int_gf_at_cutoff):
-- part of a sample would change its proportions, and adcp and adgf must see
-- the same samples.
with dated_rows as (
    select
        STUDYID,
        USUBJID,
        CPREFID as REFID,
        CPDT as SAMPLE_ROW_DT
    from {{ ref('stg_site__cp') }}
    union all
    select
        STUDYID,
        USUBJID,
        GFREFID as REFID,
        GFDT as SAMPLE_ROW_DT
    from {{ ref('stg_site__gf') }}
)

select
    STUDYID,
    USUBJID,
    REFID,
    max(SAMPLE_ROW_DT) as SAMPLE_DT
from dated_rows
group by STUDYID, USUBJID, REFID
