-- Data-review findings: problems no single row shows, found across records
-- and domains after the load. The flow merges them into audit.findings
-- (CATEGORY 'review', same FINDING_ID recipe and life cycle); here they are
-- only produced. SEVERITY is always 'warning': the data stay loaded.
-- RECORD_KEY is the loader's record key of the source row (staging passes it
-- on): the same text row findings use, so a finding keeps its identity across
-- cumulative transfers.
-- Every record is as known at the data cut-off (int_<domain>_at_cutoff, as
-- for the analysis tables): a record the cut-off hides, or an end date after
-- it, cannot make or break a finding.
--   ovr_vs_recist            investigator OVRLRESP differs from the RECIST 1.1
--                            response the warehouse computes from TU/TR (both
--                            before the CR marker rule, which treats them alike)
--   death_date_disagreement  a DS DEATH date differs from the date of death
--                            ADSL uses (DM DTHDTC, else the earliest DS DEATH)
--   dead_without_death_date  SS reports DEAD but neither DM nor DS gives a date
--   date_after_death         AE/EX/LB/RS/TR dates certainly after the death
--                            (partial AE dates: their earliest possible day)
--   end_before_start_partial an AE whose end, at the latest, is before its
--                            start at the earliest, with a partial date (the
--                            row rule not_before only judges complete dates)
with subjects as (
    select
        STUDYID,
        SITEID,
        USUBJID
    from {{ ref('adsl') }}
),

deaths as (
    select * from {{ ref('int_subject_death') }}
),

ovr_vs_recist as (
    select
        ovr.STUDYID,
        subjects.SITEID,
        'RS' as DOMAIN,
        ovr.USUBJID,
        ovr.RECORD_KEY,
        'RSSTRESC' as COLUMN_NAME,
        'OVR=' || ovr.ORRESP || ' RECIST=' || recist.ORRESP as VALUE,
        'ovr_vs_recist' as RULE,
        coalesce(ovr.VISIT, 'The assessment') || ' on ' || {{ format_date('ovr.ADT', '%Y-%m-%d') }}
        || ': the investigator''s overall response is ' || ovr.ORRESP
        || ' but RECIST 1.1 computed from the tumour measurements gives ' || recist.ORRESP
        || ' (' || recist.RCBASIS || '). Check the measurements (TU/TR) or the response (RS).' as MESSAGE
    from {{ ref('int_rs_ovr_timepoints') }} as ovr
    inner join {{ ref('int_rs_ovr_recist') }} as recist
        on recist.STUDYID = ovr.STUDYID and recist.USUBJID = ovr.USUBJID and recist.ADT = ovr.ADT
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = ovr.STUDYID
    inner join subjects on subjects.STUDYID = ovr.STUDYID and subjects.USUBJID = ovr.USUBJID
    where ovr.ORRESP <> recist.ORRESP
),

death_date_disagreement as (
    select
        ds.STUDYID,
        ds.SITEID,
        'DS' as DOMAIN,
        ds.USUBJID,
        ds.RECORD_KEY,
        'DSSTDTC' as COLUMN_NAME,
        'DS=' || {{ format_date('ds.DSSTDT', '%Y-%m-%d') }}
        || ' DTHDT=' || {{ format_date('deaths.DTHDT', '%Y-%m-%d') }} as VALUE,
        'death_date_disagreement' as RULE,
        'The DS DEATH record (' || ds.DSSCAT || ') gives ' || {{ format_date('ds.DSSTDT', '%Y-%m-%d') }}
        || ' as the date of death, but '
        || case
            when deaths.DM_DTHDT is not null
                then 'DM DTHDTC gives ' || {{ format_date('deaths.DM_DTHDT', '%Y-%m-%d') }}
            else 'another DS DEATH record gives ' || {{ format_date('deaths.DS_DTHDT', '%Y-%m-%d') }}
        end
        || '; the analyses use ' || {{ format_date('deaths.DTHDT', '%Y-%m-%d') }} || '.' as MESSAGE
    from {{ ref('int_ds_at_cutoff') }} as ds
    inner join deaths on deaths.STUDYID = ds.STUDYID and deaths.USUBJID = ds.USUBJID
    where ds.DSDECOD = 'DEATH' and ds.DSSTDT <> deaths.DTHDT
),

dead_without_death_date as (
    select
        ss.STUDYID,
        ss.SITEID,
        'SS' as DOMAIN,
        ss.USUBJID,
        ss.RECORD_KEY,
        'SSSTRESC' as COLUMN_NAME,
        ss.SSSTRESC as VALUE,
        'dead_without_death_date' as RULE,
        'Survival follow-up on ' || {{ format_date('ss.SSDT', '%Y-%m-%d') }}
        || ' reports the subject dead, but neither DM DTHDTC nor a DS DEATH record gives the date of death'
        || ' (the contact date is not the date of death).' as MESSAGE
    from {{ ref('int_ss_at_cutoff') }} as ss
    left join deaths on deaths.STUDYID = ss.STUDYID and deaths.USUBJID = ss.USUBJID
    where ss.SSTESTCD = 'SURVSTAT' and ss.SSSTRESC = 'DEAD' and deaths.DTHDT is null
),

-- Every dated record of the domains that should stop at death, one row per
-- (record, date column): DOMAIN, key, column, date as sent, earliest day it can be.
dated_records as (
    select
        STUDYID,
        SITEID,
        USUBJID,
        'AE' as DOMAIN,
        RECORD_KEY,
        'Adverse event ' || AESEQ || ' (' || AETERM || ')' as WHAT,
        'AESTDTC' as COLUMN_NAME,
        AESTDTC as VALUE,
        {{ earliest_possible_date('AESTDTC') }} as EARLIEST
    from {{ ref('int_ae_at_cutoff') }}
    union all
    select
        STUDYID,
        SITEID,
        USUBJID,
        'AE' as DOMAIN,
        RECORD_KEY,
        'Adverse event ' || AESEQ || ' (' || AETERM || ')' as WHAT,
        'AEENDTC' as COLUMN_NAME,
        AEENDTC as VALUE,
        {{ earliest_possible_date('AEENDTC') }} as EARLIEST
    from {{ ref('int_ae_at_cutoff') }}
    union all
    select
        STUDYID,
        SITEID,
        USUBJID,
        'EX' as DOMAIN,
        RECORD_KEY,
        'Exposure ' || EXSEQ || ' (' || EXTRT || ')' as WHAT,
        'EXSTDTC' as COLUMN_NAME,
        {{ format_date('EXSTDT', '%Y-%m-%d') }} as VALUE,
        EXSTDT as EARLIEST
    from {{ ref('int_ex_at_cutoff') }}
    union all
    select
        STUDYID,
        SITEID,
        USUBJID,
        'EX' as DOMAIN,
        RECORD_KEY,
        'Exposure ' || EXSEQ || ' (' || EXTRT || ')' as WHAT,
        'EXENDTC' as COLUMN_NAME,
        {{ format_date('EXENDT', '%Y-%m-%d') }} as VALUE,
        EXENDT as EARLIEST
    from {{ ref('int_ex_at_cutoff') }}
    union all
    select
        STUDYID,
        SITEID,
        USUBJID,
        'LB' as DOMAIN,
        RECORD_KEY,
        'Lab test ' || LBTESTCD as WHAT,
        'LBDTC' as COLUMN_NAME,
        {{ format_date('LBDT', '%Y-%m-%d') }} as VALUE,
        LBDT as EARLIEST
    from {{ ref('int_lb_at_cutoff') }}
    union all
    select
        STUDYID,
        SITEID,
        USUBJID,
        'RS' as DOMAIN,
        RECORD_KEY,
        'Response ' || RSTESTCD || ' (' || RSEVAL || ', ' || coalesce(VISIT, 'no visit') || ')' as WHAT,
        'RSDTC' as COLUMN_NAME,
        {{ format_date('RSDT', '%Y-%m-%d') }} as VALUE,
        RSDT as EARLIEST
    from {{ ref('int_rs_at_cutoff') }}
    union all
    select
        STUDYID,
        SITEID,
        USUBJID,
        'TR' as DOMAIN,
        RECORD_KEY,
        'Tumour result ' || TRLNKID || ' ' || TRTESTCD || ' (' || coalesce(VISIT, 'no visit') || ')' as WHAT,
        'TRDTC' as COLUMN_NAME,
        {{ format_date('TRDT', '%Y-%m-%d') }} as VALUE,
        TRDT as EARLIEST
    from {{ ref('int_tr_at_cutoff') }}
),

date_after_death as (
    select
        r.STUDYID,
        r.SITEID,
        r.DOMAIN,
        r.USUBJID,
        r.RECORD_KEY,
        r.COLUMN_NAME,
        r.VALUE,
        'date_after_death' as RULE,
        r.WHAT || ': ' || r.COLUMN_NAME || ' ' || r.VALUE || ' is after the subject''s date of death '
        || {{ format_date('deaths.DTHDT', '%Y-%m-%d') }} || '.' as MESSAGE
    from dated_records as r
    inner join deaths on deaths.STUDYID = r.STUDYID and deaths.USUBJID = r.USUBJID
    where r.EARLIEST > deaths.DTHDT
),

end_before_start_partial as (
    select
        STUDYID,
        SITEID,
        'AE' as DOMAIN,
        USUBJID,
        RECORD_KEY,
        'AEENDTC' as COLUMN_NAME,
        AEENDTC as VALUE,
        'end_before_start_partial' as RULE,
        'Adverse event ' || AESEQ || ' (' || AETERM || ') ends ' || AEENDTC || ', at the latest '
        || {{ format_date(latest_possible_date('AEENDTC'), '%Y-%m-%d') }} || ', before it starts ' || AESTDTC
        || ', at the earliest ' || {{ format_date(earliest_possible_date('AESTDTC'), '%Y-%m-%d') }} || '.' as MESSAGE
    from {{ ref('int_ae_at_cutoff') }}
    where
        (length(AESTDTC) < 10 or length(AEENDTC) < 10)
        and {{ latest_possible_date('AEENDTC') }} < {{ earliest_possible_date('AESTDTC') }}
),

-- The five have the same columns in the same order (a plain union all).
all_findings as (
    select * from ovr_vs_recist
    union all
    select * from death_date_disagreement
    union all
    select * from dead_without_death_date
    union all
    select * from date_after_death
    union all
    select * from end_before_start_partial
)

select
    STUDYID,
    SITEID,
    DOMAIN,
    USUBJID,
    RECORD_KEY,
    COLUMN_NAME,
    VALUE,
    RULE,
    'warning' as SEVERITY,
    MESSAGE
from all_findings
