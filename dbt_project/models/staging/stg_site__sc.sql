with current_rows as (
    {{ current_transfer_rows('sc') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    SCTESTCD,
    SCTEST,
    SCORRES,
    {{ cast_text('SCDTC', 'date') }} as SCDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
