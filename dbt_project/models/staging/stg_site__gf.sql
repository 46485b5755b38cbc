with current_rows as (
    {{ current_transfer_rows('gf') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    GFREFID,
    VISIT,
    {{ cast_text('VISITNUM', 'double') }} as VISITNUM,
    GFCELLTY,
    GFGENSY,
    {{ cast_text('GFSTRESN', 'double') }} as GFSTRESN,
    GFSTRESU,
    {{ cast_text('GFDTC', 'date') }} as GFDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
