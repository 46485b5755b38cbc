-- RECIST 1.1 non-target response per post-baseline assessment, from the TR
-- TUMSTATE rows of the baseline NON-TARGET lesions:
--   PD: any of them UNEQUIVOCAL PROGRESSION (even if others were not assessed);
--   NE: any of them without a TUMSTATE row that day;
--   CR: all ABSENT; NON-CR/NON-PD otherwise.
-- Two TUMSTATE rows for one lesion on one date: the worse state counts.
-- TUMSTATE rows of NEW lesions are not non-target lesions (a new lesion is
-- judged in int_tu_new_lesions).
with nontargets as (
    select * from {{ ref('int_tu_baseline_lesions') }}
    where TUORRES = 'NON-TARGET'
),

lesion_states as (
    select
        STUDYID,
        USUBJID,
        TRLNKID,
        TRDT,
        max(case TRORRES when 'ABSENT' then 1 when 'PRESENT' then 2 when 'UNEQUIVOCAL PROGRESSION' then 3 end)
            as STATE_RANK
    from {{ ref('int_tr_at_cutoff') }}
    where TRTESTCD = 'TUMSTATE'
    group by STUDYID, USUBJID, TRLNKID, TRDT
),

counted as (
    select
        a.STUDYID,
        a.USUBJID,
        a.ADT,
        count(*) as N_NONTARGET,
        count(s.STATE_RANK) as N_ASSESSED,
        count(*) filter (where s.STATE_RANK = 1) as N_ABSENT,
        {{ ordered_string_agg('n.TULNKID', ', ', 'n.TULNKID', where='s.STATE_RANK = 3') }} as PROGRESSED
    from {{ ref('int_tr_assessment_dates') }} as a
    inner join nontargets as n on n.STUDYID = a.STUDYID and n.USUBJID = a.USUBJID
    left join lesion_states as s
        on s.STUDYID = a.STUDYID and s.USUBJID = a.USUBJID and s.TRLNKID = n.TULNKID and s.TRDT = a.ADT
    group by a.STUDYID, a.USUBJID, a.ADT
)

select
    STUDYID,
    USUBJID,
    ADT,
    case
        when PROGRESSED is not null then 'PD'
        when N_ASSESSED < N_NONTARGET then 'NE'
        when N_ABSENT = N_NONTARGET then 'CR'
        else 'NON-CR/NON-PD'
    end as NTRGRESP,
    N_NONTARGET,
    N_ASSESSED,
    N_ABSENT,
    PROGRESSED
from counted
