with current_rows as (
    {{ current_transfer_rows('ex') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    cast(EXSEQ as integer) as EXSEQ,
    EXTRT,
    cast(EXDOSE as double) as EXDOSE,
    EXDOSU,
    EXDOSFRQ,
    EXROUTE,
    cast(EXSTDTC as date) as EXSTDT,
    cast(EXENDTC as date) as EXENDT,  -- NULL = ongoing period
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
