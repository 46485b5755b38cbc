with current_rows as (
    {{ current_transfer_rows('lb') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    LBTESTCD,
    cast(LBSTRESN as double) as LBSTRESN,
    LBSTRESU,
    cast(LBSTNRLO as double) as LBSTNRLO,
    cast(LBSTNRHI as double) as LBSTNRHI,
    VISIT,
    cast(LBDTC as date) as LBDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
