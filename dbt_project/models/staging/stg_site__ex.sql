with current_rows as (
    {{ current_transfer_rows('ex') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    {{ cast_text('EXSEQ', 'integer') }} as EXSEQ,
    EXTRT,
    {{ cast_text('EXDOSE', 'double') }} as EXDOSE,
    EXDOSU,
    EXDOSFRQ,
    EXROUTE,
    {{ cast_text('EXSTDTC', 'date') }} as EXSTDT,
    {{ cast_text('EXENDTC', 'date') }} as EXENDT,  -- NULL = ongoing period
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
