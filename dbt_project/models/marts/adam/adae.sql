-- ADAE: one row per adverse event (derivations in int_ae_dates / int_ae_derived /
-- int_ae_occurrence_flags).
-- ADaM conventions (macros/adam_conventions.sql): ADSL variables carried,
-- TRTP/TRTA, ASEQ by ASTDT then AESEQ (chronological; AESEQ breaks ties and
-- makes the order total). SRCDOM/SRCSEQ: each record is one AE record, AESEQ.
with sequenced as (
    select
        *,
        {{ analysis_sequence_number('ASTDT nulls last, AESEQ') }} as ASEQ
    from {{ ref('int_ae_occurrence_flags') }}
)

select
    ae.STUDYID,
    ae.USUBJID,
    {{ adsl_carried_variables('adsl') }},
    ae.ASEQ,
    {{ period_treatment('adsl') }},
    ae.AESEQ,
    ae.AETERM,
    ae.AEDECOD,
    ae.AEBODSYS,
    ae.ASTDT,
    ae.ASTDTF,
    ae.AENDT,
    ae.AENDTF,
    ae.ASTDY,
    ae.AENDY,
    ae.ADURN,
    ae.ADURU,
    ae.ATOXGR,
    ae.ATOXGRN,
    ae.AESER,
    ae.AEREL,
    ae.AEOUT,
    ae.AEACN,
    ae.TRTEMFL,
    ae.ADRFL,
    ae.AOCCFL,
    ae.AOCCSFL,
    ae.AOCCPFL,
    ae.AOCCIFL,
    ae.AOCCSIFL,
    ae.AOCCPIFL,
    'AE' as SRCDOM,
    ae.AESEQ as SRCSEQ
from sequenced as ae
left join {{ ref('adsl') }} as adsl
    on adsl.STUDYID = ae.STUDYID and adsl.USUBJID = ae.USUBJID
