with current_rows as (
    {{ current_transfer_rows('cp') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    CPREFID,
    CPSPEC,
    VISIT,
    cast(VISITNUM as double) as VISITNUM,
    CPTESTCD,
    CPTEST,
    cast(CPSTRESN as bigint) as CPSTRESN,
    CPSTRESU,
    CPMETHOD,
    cast(CPDTC as date) as CPDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
