-- Baseline characteristics per subject: SC tests side by side, baseline AFP,
-- and whether a TARGET lesion was identified at baseline (measurable disease).
-- Baseline reference: TRTSDT; for a subject never dosed, ENRLDT.
with subjects as (
    select
        dm.STUDYID,
        dm.USUBJID,
        coalesce(exposure.TRTSDT, dm.ENRLDT) as BASELINE_REF_DT,
        exposure.TRTSDT
    from {{ ref('int_dm_at_cutoff') }} as dm
    left join {{ ref('int_subject_exposure') }} as exposure
        on exposure.STUDYID = dm.STUDYID and exposure.USUBJID = dm.USUBJID
),

characteristics as (
    select
        STUDYID,
        USUBJID,
        {{ cast_text("max(case when SCTESTCD = 'ECOG' then SCORRES end)", 'integer') }} as ECOG,
        max(case when SCTESTCD = 'CHILDPGH' then SCORRES end) as CHILDPGH,
        max(case when SCTESTCD = 'BCLC' then SCORRES end) as BCLC,
        max(case when SCTESTCD = 'ETIOLOGY' then SCORRES end) as ETIOLOGY,
        max(case when SCTESTCD = 'PRIORSYS' then SCORRES end) as PRIORSYS,
        max(case when SCTESTCD = 'MVI' then SCORRES end) as MVI,
        max(case when SCTESTCD = 'EHS' then SCORRES end) as EHS
    from {{ ref('int_sc_at_cutoff') }}
    group by STUDYID, USUBJID
),

-- Last AFP result on or before the baseline reference date.
afp_before_baseline as (
    select
        lb.STUDYID,
        lb.USUBJID,
        lb.LBSTRESN,
        row_number() over (partition by lb.STUDYID, lb.USUBJID order by lb.LBDT desc) as RESULT_RANK
    from {{ ref('int_lb_at_cutoff') }} as lb
    inner join subjects
        on subjects.STUDYID = lb.STUDYID and subjects.USUBJID = lb.USUBJID
    where lb.LBTESTCD = 'AFP' and lb.LBDT <= subjects.BASELINE_REF_DT
),

baseline_afp as (
    select
        STUDYID,
        USUBJID,
        LBSTRESN as AFPBL
    from afp_before_baseline
    where RESULT_RANK = 1
),

-- Baseline tumour assessment: TU rows dated on or before TRTSDT.
baseline_target as (
    select distinct
        tu.STUDYID,
        tu.USUBJID
    from {{ ref('int_tu_at_cutoff') }} as tu
    inner join subjects
        on subjects.STUDYID = tu.STUDYID and subjects.USUBJID = tu.USUBJID
    where tu.TUORRES = 'TARGET' and tu.TUDT <= subjects.TRTSDT
)

select
    subjects.STUDYID,
    subjects.USUBJID,
    characteristics.ECOG,
    characteristics.CHILDPGH,
    characteristics.BCLC,
    characteristics.ETIOLOGY,
    characteristics.PRIORSYS,
    characteristics.MVI,
    characteristics.EHS,
    baseline_afp.AFPBL,
    baseline_target.USUBJID is not null as HAS_BASELINE_TARGET
from subjects
left join characteristics
    on characteristics.STUDYID = subjects.STUDYID and characteristics.USUBJID = subjects.USUBJID
left join baseline_afp
    on baseline_afp.STUDYID = subjects.STUDYID and baseline_afp.USUBJID = subjects.USUBJID
left join baseline_target
    on baseline_target.STUDYID = subjects.STUDYID and baseline_target.USUBJID = subjects.USUBJID
