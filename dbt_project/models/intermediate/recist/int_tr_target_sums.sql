-- Target sum of diameters (SOD) at each post-baseline assessment, with the
-- baseline SOD (RECIST 1.1, TR LDIAM of the baseline TARGET lesions).
-- Diameters are DECIMAL so that "exactly 30 %" and "exactly 20 %" compare
-- exactly (no floating-point rounding at the boundaries).
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

baseline_diameters as (
    select
        t.STUDYID,
        t.USUBJID,
        t.TULNKID,
        d.DIAMETER
    from targets as t
    inner join diameters as d
        on
            d.STUDYID = t.STUDYID and d.USUBJID = t.USUBJID and d.TRLNKID = t.TULNKID
            and d.TRDT <= t.TRTSDT
    qualify row_number() over (partition by t.STUDYID, t.USUBJID, t.TULNKID order by d.TRDT desc) = 1
),

baseline as (
    select
        t.STUDYID,
        t.USUBJID,
        count(*) as N_TARGET,
        case when count(b.DIAMETER) = count(*) then sum(b.DIAMETER) end as BASE_SOD
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
        coalesce(sum(d.DIAMETER), 0) as SOD,
        count(*) filter (
            where (t.IS_NODAL and d.DIAMETER < 10) or (not t.IS_NODAL and d.DIAMETER = 0)
        ) as N_DISAPPEARED,
        string_agg(t.TULNKID, ', ' order by t.TULNKID) filter (where d.DIAMETER is null) as NOT_MEASURED
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
