-- RECIST 1.1 overall timepoint response computed by the warehouse (OVRRECIS,
-- before the CR marker rule), one row per post-baseline assessment date:
-- RECIST 1.1 table 1 (target disease) and table 2 (non-target disease only).
--   PD: a new lesion, target PD or non-target PD;
--   target CR: CR if non-target CR (or none), else PR (non-target present or
--     not all evaluated);
--   target PR / SD / NE: the same overall (non-target non-PD does not change it);
--   non-target only: CR, NON-CR/NON-PD or NE as the non-target response;
--   no baseline lesion at all and no new lesion: NE (nothing to assess).
-- ORRESP is this response (the marker rule keeps it there, AVALC after it);
-- RCBASIS says what it rests on, for data review.
with assessments as (
    select * from {{ ref('int_tr_assessment_dates') }}
),

combined as (
    select
        a.STUDYID,
        a.USUBJID,
        a.ADT,
        a.VISIT,
        a.VISITNUM,
        t.TRGRESP,
        t.TRGBASIS,
        n.NTRGRESP,
        n.PROGRESSED as NT_PROGRESSED,
        new_.NEW_LESIONS
    from assessments as a
    left join {{ ref('int_tr_target_response') }} as t
        on t.STUDYID = a.STUDYID and t.USUBJID = a.USUBJID and t.ADT = a.ADT
    left join {{ ref('int_tr_nontarget_state') }} as n
        on n.STUDYID = a.STUDYID and n.USUBJID = a.USUBJID and n.ADT = a.ADT
    left join {{ ref('int_tu_new_lesions') }} as new_
        on new_.STUDYID = a.STUDYID and new_.USUBJID = a.USUBJID and new_.ADT = a.ADT
)

select
    STUDYID,
    USUBJID,
    ADT,
    VISIT,
    VISITNUM,
    case
        when NEW_LESIONS is not null or TRGRESP = 'PD' or NTRGRESP = 'PD' then 'PD'
        when TRGRESP = 'CR' then case when coalesce(NTRGRESP, 'CR') = 'CR' then 'CR' else 'PR' end
        when TRGRESP is not null then TRGRESP
        when NTRGRESP is not null then NTRGRESP
        else 'NE'
    end as ORRESP,
    TRGRESP,
    NTRGRESP,
    case when NEW_LESIONS is not null then 'Y' else 'N' end as NEWLPROG,
    concat_ws(
        '; ',
        case when TRGRESP is null and NTRGRESP is null then 'no baseline lesion' end,
        case when TRGRESP is not null then 'target ' || TRGRESP || ': ' || TRGBASIS end,
        case
            when NTRGRESP = 'PD' then 'non-target PD: unequivocal progression of ' || NT_PROGRESSED
            when NTRGRESP is not null then 'non-target ' || NTRGRESP
        end,
        case when NEW_LESIONS is not null then 'new lesion ' || NEW_LESIONS else 'no new lesion' end
    ) as RCBASIS
from combined
