with current_rows as (
    {{ current_transfer_rows('ds') }}
)

select
    _studyid as STUDYID,
    _siteid as SITEID,
    USUBJID,
    DSCAT,
    DSSCAT,
    DSDECOD,
    {{ cast_text('DSSTDTC', 'date') }} as DSSTDT,
    _transfer_id as TRANSFER_ID,
    _source_line as SOURCE_LINE,
    _record_key as RECORD_KEY
from current_rows
