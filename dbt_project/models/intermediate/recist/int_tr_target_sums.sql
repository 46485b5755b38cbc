-- Target sum of diameters (SOD) at each post-baseline assessment, with the
-- baseline SOD (RECIST 1.1, TR LDIAM of the baseline TARGET lesions).
-- Diameters are DECIMAL so that "exactly 30 %" and "exactly 20 %" compare
-- exactly (no floating-point rounding at the boundaries). Sums are
-- DECIMAL(38, 3) on both engines (DuckDB's sum of a DECIMAL(18, 3); Spark's
-- would be a DECIMAL(28, 3)).
-- Baseline diameter of a lesion: its latest LDIAM dated on or before TRTSDT;
-- BASE_SOD is NULL when a baseline target lesion has no baseline diameter.
-- At an assessment, SOD sums the lesions measured that day (N_MEASURED of
-- N_TARGET); two LDIAM rows for one lesion on one date: the larger counts.
-- N_DISAPPEARED counts lesions meeting the CR size rule (non-nodal 0 mm,
-- nodal short axis < 10 mm).
with targets as (
    select * from {{ ref('int_tu_baseline_lesions') }}
    where TUORRES = 'TARGET'
),

diameters as (
    select
        STUDYID,
        USUBJID,
        TRLNKID,
        TRDT,
        max(cast(TRSTRESN as decimal(18, 3))) as DIAMETER
    from {{ ref('int_tr_at_cutoff') }}
    where TRTESTCD = 'LDIAM' and TRSTRESN is not null
    group by STUDYID, USUBJID, TRLNKID, TRDT
),

diameters_before_treatment as (
    select
        t.STUDYID,
        t.USUBJID,
        t.TULNKID,
        d.DIAMETER,
        row_number() over (partition by t.STUDYID, t.USUBJID, t.TULNKID order by d.TRDT desc) as DIAMETER_RANK
    from targets as t
    inner join diameters as d
        on
            d.STUDYID = t.STUDYID and d.USUBJID = t.USUBJID and d.TRLNKID = t.TULNKID
            and d.TRDT <= t.TRTSDT
),

baseline_diameters as (
    select
        STUDYID,
        USUBJID,
        TULNKID,
        DIAMETER
    from diameters_before_treatment
    where DIAMETER_RANK = 1
),

baseline as (
    select
        t.STUDYID,
        t.USUBJID,
        count(*) as N_TARGET,
        case when count(b.DIAMETER) = count(*) then cast(sum(b.DIAMETER) as decimal(38, 3)) end as BASE_SOD
    from targets as t
    left join baseline_diameters as b
        on b.STUDYID = t.STUDYID and b.USUBJID = t.USUBJID and b.TULNKID = t.TULNKID
    group by t.STUDYID, t.USUBJID
),

at_assessment as (
    select
        a.STUDYID,
        a.USUBJID,
        a.ADT,
        count(d.DIAMETER) as N_MEASURED,
        cast(coalesce(sum(d.DIAMETER), 0) as decimal(38, 3)) as SOD,
        count(*) filter (
            where (t.IS_NODAL and d.DIAMETER < 10) or (not t.IS_NODAL and d.DIAMETER = 0)
        ) as N_DISAPPEARED,
        {{ ordered_string_agg('t.TULNKID', ', ', 't.TULNKID', where='d.DIAMETER is null') }} as NOT_MEASURED
    from {{ ref('int_tr_assessment_dates') }} as a
    inner join targets as t on t.STUDYID = a.STUDYID and t.USUBJID = a.USUBJID
    left join diameters as d
        on d.STUDYID = a.STUDYID and d.USUBJID = a.USUBJID and d.TRLNKID = t.TULNKID and d.TRDT = a.ADT
    group by a.STUDYID, a.USUBJID, a.ADT
)

select
    a.STUDYID,
    a.USUBJID,
    a.ADT,
    b.N_TARGET,
    a.N_MEASURED,
    a.N_DISAPPEARED,
    a.NOT_MEASURED,
    a.SOD,
    b.BASE_SOD
from at_assessment as a
inner join baseline as b on b.STUDYID = a.STUDYID and b.USUBJID = a.USUBJID
