-- Protocol parameters (the ⚙ rules of the analysis spec) per study, as data.
select
    STUDYID,
    RSEVAL,
    REF_DATE,
    CONFIRM_DAYS,
    SD_MIN_DAYS,
    CR_MARKER_LBTESTCD,
    CR_MARKER_WINDOW_DAYS,
    DATA_CUTOFF
from {{ source('config', 'studies') }}
