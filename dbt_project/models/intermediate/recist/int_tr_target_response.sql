-- RECIST 1.1 target-lesion response per post-baseline assessment.
-- Nadir: the smallest SOD so far, baseline included; only assessments with
--   every target lesion measured set it (an NE assessment does not).
-- PD: SOD >= 20 % above the nadir AND >= 5 mm above it. Judged on the sum of
--   the lesions measured, even when some are missing: missing lesions can
--   only make the sum larger, so that PD is evident.
-- NE: any baseline target lesion not measured (and no PD evident), or no
--   complete baseline sum to compare with.
-- CR: every target lesion at the CR size (non-nodal 0 mm, nodal < 10 mm).
-- PR: SOD >= 30 % below the baseline SOD. SD otherwise.
-- Integer percent arithmetic on DECIMAL sums: exact at the boundaries.
with sums as (
    select
        *,
        N_MEASURED = N_TARGET as ALL_MEASURED,
        min(case when N_MEASURED = N_TARGET then SOD end) over (
            partition by STUDYID, USUBJID order by ADT
            rows between unbounded preceding and 1 preceding
        ) as PRIOR_MIN_SOD
    from {{ ref('int_tr_target_sums') }}
),

with_nadir as (
    select
        *,
        case
            when BASE_SOD is null then null
            when PRIOR_MIN_SOD is null or BASE_SOD <= PRIOR_MIN_SOD then BASE_SOD
            else PRIOR_MIN_SOD
        end as NADIR_SOD
    from sums
),

judged as (
    select
        *,
        case
            when BASE_SOD is null then 'NE'
            when SOD * 100 >= NADIR_SOD * 120 and SOD - NADIR_SOD >= 5 then 'PD'
            when not ALL_MEASURED then 'NE'
            when N_DISAPPEARED = N_TARGET then 'CR'
            when SOD * 100 <= BASE_SOD * 70 then 'PR'
            else 'SD'
        end as TRGRESP
    from with_nadir
)

select
    STUDYID,
    USUBJID,
    ADT,
    TRGRESP,
    SOD,
    BASE_SOD,
    NADIR_SOD,
    -- Percent changes in DOUBLE, written out: DuckDB divides DECIMALs as DOUBLEs,
    -- Spark would divide them exactly (a DECIMAL with other digits).
    case
        when ALL_MEASURED and BASE_SOD > 0 then cast(100 * (SOD - BASE_SOD) as double) / cast(BASE_SOD as double)
    end as PCHG_BASE,
    case
        when ALL_MEASURED and NADIR_SOD > 0 then cast(100 * (SOD - NADIR_SOD) as double) / cast(NADIR_SOD as double)
    end as PCHG_NADIR,
    -- What the response rests on, for review messages.
    case
        when BASE_SOD is null then 'no complete baseline target sum'
        when N_MEASURED = 0 then 'no target lesion measured'
        when not ALL_MEASURED
            then
                'target lesion(s) ' || NOT_MEASURED || ' not measured, sum of the others '
                || {{ mm_text('SOD') }} || ' mm vs nadir ' || {{ mm_text('NADIR_SOD') }} || ' mm'
        else
            'SOD ' || {{ mm_text('SOD') }} || ' mm: '
            || {{ change_text('SOD', 'BASE_SOD') }} || ' vs baseline ' || {{ mm_text('BASE_SOD') }} || ' mm, '
            || {{ change_text('SOD', 'NADIR_SOD') }} || ' vs nadir ' || {{ mm_text('NADIR_SOD') }} || ' mm'
    end as TRGBASIS
from judged
