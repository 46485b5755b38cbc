-- AE start/end dates with imputation of partial dates (analysis spec, ADAE).
-- End: missing day -> last day of the month (AENDTF 'D'), missing month ->
--   31 December (AENDTF 'M'); an imputed end is never after DTHDT.
-- Start: missing day -> 1st of the month (ASTDTF 'D'), missing month ->
--   1 January (ASTDTF 'M'); but TRTSDT instead when the known part is TRTSDT's
--   month (or year) and the AE did not end before TRTSDT. "Did not end before"
--   uses the imputed end (latest possible end); an ongoing AE did not end.
-- The end imputation is macro imputed_ae_end (partial_dates.sql).
-- Data cut-off: the AEs as known at it (int_ae_at_cutoff: AEs starting after
--   it are not there, and an end after it is not known, so AENDT is NULL).
with subjects as (
    select
        STUDYID,
        USUBJID,
        TRTSDT,
        DTHDT
    from {{ ref('adsl') }}
),

end_imputed as (
    select
        ae.*,
        subjects.TRTSDT,
        subjects.DTHDT,
        {{ imputed_ae_end('ae.AEENDTC', 'subjects.DTHDT') }} as AENDT,
        case length(ae.AEENDTC) when 7 then 'D' when 4 then 'M' end as AENDTF
    from {{ ref('int_ae_at_cutoff') }} as ae
    inner join subjects on subjects.STUDYID = ae.STUDYID and subjects.USUBJID = ae.USUBJID
),

start_imputed as (
    select
        *,
        case length(AESTDTC)
            when 10 then {{ cast_text('AESTDTC', 'date') }}
            when 7
                then case
                    when {{ format_date('TRTSDT', '%Y-%m') }} = AESTDTC and coalesce(AENDT >= TRTSDT, true)
                        then TRTSDT
                    else {{ cast_text("AESTDTC || '-01'", 'date') }}
                end
            when 4
                then case
                    when {{ format_date('TRTSDT', '%Y') }} = AESTDTC and coalesce(AENDT >= TRTSDT, true)
                        then TRTSDT
                    else make_date({{ cast_text('AESTDTC', 'integer') }}, 1, 1)
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
    AENDT,
    AENDTF
from start_imputed
