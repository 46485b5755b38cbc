-- New lesions per subject and date (RECIST 1.1: any new lesion is PD at the
-- assessment on its TUDTC). Only TU NEW lesions dated after TRTSDT of dosed
-- subjects count: a "new" lesion on or before the start of treatment is
-- baseline disease, not progression.
select
    tu.STUDYID,
    tu.USUBJID,
    tu.TUDT as ADT,
    count(*) as N_NEW,
    {{ ordered_string_agg(
        "tu.TULNKID || ' (' || coalesce(tu.TULOC, 'location not given') || ')'", ', ', 'tu.TULNKID'
    ) }} as NEW_LESIONS
from {{ ref('int_tu_at_cutoff') }} as tu
inner join {{ ref('adsl') }} as adsl
    on adsl.STUDYID = tu.STUDYID and adsl.USUBJID = tu.USUBJID
where
    adsl.SAFFL = 'Y'
    and tu.TUORRES = 'NEW'
    and tu.TUDT > adsl.TRTSDT
group by tu.STUDYID, tu.USUBJID, tu.TUDT
