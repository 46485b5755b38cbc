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
    {{ cast_text('VISITNUM', 'double') }} as VISITNUM,
    CPTESTCD,
    CPTEST,
    {{ cast_text('CPSTRESN', 'bigint') }} as CPSTRESN,
    CPSTRESU,
    CPMETHOD,
    {{ cast_text('CPDTC', 'date') }} as CPDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
