-- Baseline lesions of dosed subjects (RECIST 1.1 from TU): TU TARGET and
-- NON-TARGET lesions identified on or before TRTSDT (analysis spec,
-- "Conventions": baseline tumour assessment = TU/TR rows dated on or before
-- TRTSDT). IS_NODAL: TULOC 'LYMPH NODE' (its diameter is the short axis; CR
-- allows < 10 mm). Lesions first identified after TRTSDT are not baseline
-- lesions and take no part in the target sum or the non-target state.
select
    tu.STUDYID,
    tu.USUBJID,
    tu.TULNKID,
    tu.TUORRES,
    tu.TULOC,
    tu.TULOC = 'LYMPH NODE' as IS_NODAL,
    tu.TUDT,
    adsl.TRTSDT
from {{ ref('int_tu_at_cutoff') }} as tu
inner join {{ ref('adsl') }} as adsl
    on adsl.STUDYID = tu.STUDYID and adsl.USUBJID = tu.USUBJID
where
    adsl.SAFFL = 'Y'
    and tu.TUORRES in ('TARGET', 'NON-TARGET')
    and tu.TUDT <= adsl.TRTSDT
