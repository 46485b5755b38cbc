-- AE start/end dates with imputation of partial dates (analysis spec, ADAE).
-- End: missing day -> last day of the month (AENDTF 'D'), missing month ->
--   31 December (AENDTF 'M'); an imputed end is never after DTHDT.
-- Start: missing day -> 1st of the month (ASTDTF 'D'), missing month ->
--   1 January (ASTDTF 'M'); but TRTSDT instead when the known part is TRTSDT's
--   month (or year) and the AE did not end before TRTSDT. "Did not end before"
--   uses the imputed end (latest possible end); an ongoing AE did not end.
-- Data cut-off: AEs starting after it are ignored; an end after it is unknown
--   at the cut-off (AENDT NULL = ongoing).
with subjects as (
    select
        adsl.STUDYID,
        adsl.USUBJID,
        adsl.TRTSDT,
        adsl.DTHDT,
        s.DATA_CUTOFF
    from {{ ref('adsl') }} as adsl
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = adsl.STUDYID
),

end_imputed as (
    select
        ae.*,
        subjects.TRTSDT,
        subjects.DTHDT,
        subjects.DATA_CUTOFF,
        case length(ae.AEENDTC)
            when 10 then cast(ae.AEENDTC as date)
            when 7
                then least(
                    last_day(cast(ae.AEENDTC || '-01' as date)),
                    coalesce(subjects.DTHDT, date '9999-12-31')
                )
            when 4
                then least(
                    make_date(cast(ae.AEENDTC as integer), 12, 31),
                    coalesce(subjects.DTHDT, date '9999-12-31')
                )
        end as AENDT_IMPUTED,
        case length(ae.AEENDTC) when 7 then 'D' when 4 then 'M' end as AENDTF
    from {{ ref('stg_site__ae') }} as ae
    inner join subjects on subjects.STUDYID = ae.STUDYID and subjects.USUBJID = ae.USUBJID
),

start_imputed as (
    select
        *,
        case length(AESTDTC)
            when 10 then cast(AESTDTC as date)
            when 7
                then case
                    when strftime(TRTSDT, '%Y-%m') = AESTDTC and coalesce(AENDT_IMPUTED >= TRTSDT, true)
                        then TRTSDT
                    else cast(AESTDTC || '-01' as date)
                end
            when 4
                then case
                    when strftime(TRTSDT, '%Y') = AESTDTC and coalesce(AENDT_IMPUTED >= TRTSDT, true)
                        then TRTSDT
                    else make_date(cast(AESTDTC as integer), 1, 1)
                end
        end as ASTDT,
        case length(AESTDTC) when 7 then 'D' when 4 then 'M' end as ASTDTF
    from end_imputed
)

select
    STUDYID,
    SITEID,
    USUBJID,
    AESEQ,
    AETERM,
    AEDECOD,
    AEBODSYS,
    AESTDTC,
    AEENDTC,
    AETOXGR,
    AESER,
    AEREL,
    AEACN,
    AEOUT,
    ASTDT,
    ASTDTF,
    case when DATA_CUTOFF is not null and AENDT_IMPUTED > DATA_CUTOFF then null else AENDT_IMPUTED end as AENDT,
    case when DATA_CUTOFF is not null and AENDT_IMPUTED > DATA_CUTOFF then null else AENDTF end as AENDTF
from start_imputed
where {{ on_or_before_cutoff('ASTDT', 'DATA_CUTOFF') }}
