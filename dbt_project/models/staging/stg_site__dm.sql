with current_rows as (
    {{ current_transfer_rows('dm') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    SUBJID,
    USUBJID,
    {{ cast_text('RFICDTC', 'date') }} as RFICDT,
    {{ cast_text('ENRLDTC', 'date') }} as ENRLDT,
    BRTHDTC,  -- partial date: stays text
    {{ cast_text('AGE', 'integer') }} as AGE,
    SEX,
    RACE,
    ETHNIC,
    COUNTRY,
    ARMCD,
    ARM,
    {{ cast_text('DTHDTC', 'date') }} as DTHDT,
    DTHFL,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
