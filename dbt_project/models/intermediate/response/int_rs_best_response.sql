-- Best overall response per SAFFL subject from the ANL01FL overall responses.
-- BOR (no confirmation): best AVALC (CR > PR > SD > NON-CR/NON-PD > PD > NE);
--   SD and NON-CR/NON-PD count only at >= SD_MIN_DAYS after the reference
--   date (earlier they count as NE). ADT = first date with that response.
-- CBOR (confirmation, admiralonco rules with the spec's † difference):
--   CR: a CR followed by a CR >= CONFIRM_DAYS later, in between only CR/NE,
--       at most one NE;
--   PR: a PR or CR followed by a PR or CR >= CONFIRM_DAYS later, in between
--       only CR/PR/NE, at most one NE († CR then PR confirms a PR);
--   SD: any CR, PR or SD >= SD_MIN_DAYS after the reference date;
--   NON-CR/NON-PD: same as SD for non-target-only disease (ranked after SD);
--   PD: any PD; NE: anything else, including no assessment (ADT NULL).
--   ADT = date of the first assessment that qualifies for the response.
with subjects as (
    select
        adsl.STUDYID,
        adsl.USUBJID
    from {{ ref('adsl') }} as adsl
    where adsl.SAFFL = 'Y'
),

assessments as (
    select
        STUDYID,
        USUBJID,
        ADT,
        AVALC,
        CONFIRM_DAYS,
        {{ days_between('REFDT', 'ADT') }} >= SD_MIN_DAYS as AFTER_SD_MINIMUM
    from {{ ref('int_rs_ovr_analysis') }}
    where ANL01FL = 'Y'
),

-- Every (response, later confirming assessment) pair far enough apart, with
-- what lies strictly between them.
pairs as (
    select
        first_.STUDYID,
        first_.USUBJID,
        first_.ADT,
        first_.AVALC as FIRST_AVALC,
        later.AVALC as LATER_AVALC,
        count(between_.ADT) filter (where between_.AVALC = 'NE') as N_NE_BETWEEN,
        count(between_.ADT) filter (where between_.AVALC not in ('CR', 'NE')) as N_NOT_CR_NE_BETWEEN,
        count(between_.ADT) filter (where between_.AVALC not in ('CR', 'PR', 'NE')) as N_NOT_CR_PR_NE_BETWEEN
    from assessments as first_
    inner join assessments as later
        on
            later.STUDYID = first_.STUDYID
            and later.USUBJID = first_.USUBJID
            and {{ days_between('first_.ADT', 'later.ADT') }} >= first_.CONFIRM_DAYS
    left join assessments as between_
        on
            between_.STUDYID = first_.STUDYID
            and between_.USUBJID = first_.USUBJID
            and between_.ADT > first_.ADT
            and between_.ADT < later.ADT
    where first_.AVALC in ('CR', 'PR') and later.AVALC in ('CR', 'PR')
    group by first_.STUDYID, first_.USUBJID, first_.ADT, first_.AVALC, later.ADT, later.AVALC
),

confirmed as (
    select
        STUDYID,
        USUBJID,
        min(
            case
                when
                    FIRST_AVALC = 'CR' and LATER_AVALC = 'CR'
                    and N_NOT_CR_NE_BETWEEN = 0 and N_NE_BETWEEN <= 1
                    then ADT
            end
        ) as CR_DT,
        min(case when N_NOT_CR_PR_NE_BETWEEN = 0 and N_NE_BETWEEN <= 1 then ADT end) as PR_DT
    from pairs
    group by STUDYID, USUBJID
),

unconfirmed as (
    select
        STUDYID,
        USUBJID,
        min(case when AVALC = 'CR' then ADT end) as CR_DT,
        min(case when AVALC = 'PR' then ADT end) as PR_DT,
        min(case when AVALC = 'SD' and AFTER_SD_MINIMUM then ADT end) as SD_DT,
        min(case when AVALC in ('CR', 'PR', 'SD') and AFTER_SD_MINIMUM then ADT end) as CONFIRMED_SD_DT,
        min(case when AVALC = 'NON-CR/NON-PD' and AFTER_SD_MINIMUM then ADT end) as NCRNPD_DT,
        min(case when AVALC = 'PD' then ADT end) as PD_DT,
        min(ADT) as FIRST_DT
    from assessments
    group by STUDYID, USUBJID
)

select
    subjects.STUDYID,
    subjects.USUBJID,
    case
        when u.CR_DT is not null then 'CR'
        when u.PR_DT is not null then 'PR'
        when u.SD_DT is not null then 'SD'
        when u.NCRNPD_DT is not null then 'NON-CR/NON-PD'
        when u.PD_DT is not null then 'PD'
        else 'NE'
    end as BOR,
    coalesce(u.CR_DT, u.PR_DT, u.SD_DT, u.NCRNPD_DT, u.PD_DT, u.FIRST_DT) as BOR_DT,
    case
        when c.CR_DT is not null then 'CR'
        when c.PR_DT is not null then 'PR'
        when u.CONFIRMED_SD_DT is not null then 'SD'
        when u.NCRNPD_DT is not null then 'NON-CR/NON-PD'
        when u.PD_DT is not null then 'PD'
        else 'NE'
    end as CBOR,
    coalesce(c.CR_DT, c.PR_DT, u.CONFIRMED_SD_DT, u.NCRNPD_DT, u.PD_DT, u.FIRST_DT) as CBOR_DT,
    u.PD_DT as FIRST_PD_DT,
    least(u.CR_DT, u.PR_DT) as FIRST_RESPONSE_DT
from subjects
left join unconfirmed as u on u.STUDYID = subjects.STUDYID and u.USUBJID = subjects.USUBJID
left join confirmed as c on c.STUDYID = subjects.STUDYID and c.USUBJID = subjects.USUBJID
