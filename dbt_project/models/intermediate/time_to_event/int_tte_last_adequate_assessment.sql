-- Dates of the adequate assessments (OVR CR, PR, SD or NON-CR/NON-PD within
-- the ANL01FL window): PFS and DOR are censored at the last one on/after
-- their start date.
select
    STUDYID,
    USUBJID,
    ADT
from {{ ref('int_rs_ovr_analysis') }}
where ANL01FL = 'Y' and AVALC in ('CR', 'PR', 'SD', 'NON-CR/NON-PD')
