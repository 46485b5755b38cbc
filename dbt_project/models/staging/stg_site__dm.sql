with current_rows as (
    {{ current_transfer_rows('dm') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    SUBJID,
    USUBJID,
    cast(RFICDTC as date) as RFICDT,
    cast(ENRLDTC as date) as ENRLDT,
    BRTHDTC,  -- partial date: stays text
    cast(AGE as integer) as AGE,
    SEX,
    RACE,
    ETHNIC,
    COUNTRY,
    ARMCD,
    ARM,
    cast(DTHDTC as date) as DTHDT,
    DTHFL,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
