with current_rows as (
    {{ current_transfer_rows('ae') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    {{ cast_text('AESEQ', 'integer') }} as AESEQ,
    AETERM,
    AEDECOD,
    AEBODSYS,
    AESTDTC,  -- partial date: stays text, imputed in int_ae_dates
    AEENDTC,  -- partial date, NULL = ongoing
    {{ cast_text('AETOXGR', 'integer') }} as AETOXGR,
    AESER,
    AEREL,
    AEACN,
    AEOUT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
