with current_rows as (
    {{ current_transfer_rows('lb') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    LBTESTCD,
    {{ cast_text('LBSTRESN', 'double') }} as LBSTRESN,
    LBSTRESU,
    {{ cast_text('LBSTNRLO', 'double') }} as LBSTNRLO,
    {{ cast_text('LBSTNRHI', 'double') }} as LBSTNRHI,
    VISIT,
    {{ cast_text('LBDTC', 'date') }} as LBDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
