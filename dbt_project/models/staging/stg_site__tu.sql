with current_rows as (
    {{ current_transfer_rows('tu') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    TULNKID,
    TUORRES,
    TULOC,
    TUMETHOD,
    {{ cast_text('TUDTC', 'date') }} as TUDT,
    VISIT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
