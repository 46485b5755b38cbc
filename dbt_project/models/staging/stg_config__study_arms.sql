-- The arms of each study (study file `arm:` or `arms:`), in the order the study
-- file lists them (ARMN 1, 2, ...), and the reference (control) arm.
select
    STUDYID,
    ARMCD,
    ARM,
    ARMN,
    REFERENCE
from {{ source('config', 'study_arms') }}
