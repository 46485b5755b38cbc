with current_rows as (
    {{ current_transfer_rows('gf') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    GFREFID,
    VISIT,
    cast(VISITNUM as double) as VISITNUM,
    GFCELLTY,
    GFGENSY,
    cast(GFSTRESN as double) as GFSTRESN,
    GFSTRESU,
    cast(GFDTC as date) as GFDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
