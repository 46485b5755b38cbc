with current_rows as (
    {{ current_transfer_rows('tr') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    TRLNKID,
    TRTESTCD,
    TRORRES,
    cast(TRSTRESN as double) as TRSTRESN,
    TRSTRESU,
    VISIT,
    cast(VISITNUM as double) as VISITNUM,
    cast(TRDTC as date) as TRDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
