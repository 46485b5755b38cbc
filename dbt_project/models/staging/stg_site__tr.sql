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
    {{ cast_text('TRSTRESN', 'double') }} as TRSTRESN,
    TRSTRESU,
    VISIT,
    {{ cast_text('VISITNUM', 'double') }} as VISITNUM,
    {{ cast_text('TRDTC', 'date') }} as TRDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
