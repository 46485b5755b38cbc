with current_rows as (
    {{ current_transfer_rows('ss') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    SSTESTCD,
    SSSTRESC,
    {{ cast_text('SSDTC', 'date') }} as SSDT,  -- contact date (for DEAD: when death became known)
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
