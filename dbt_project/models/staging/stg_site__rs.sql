with current_rows as (
    {{ current_transfer_rows('rs') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    RSTESTCD,
    RSSTRESC,
    RSEVAL,
    VISIT,
    {{ cast_text('VISITNUM', 'double') }} as VISITNUM,
    {{ cast_text('RSDTC', 'date') }} as RSDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
