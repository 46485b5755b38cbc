-- ADaM OCCDS v1.0 occurrence flags on treatment-emergent AEs (TRTEMFL = 'Y');
-- every other record gets NULL. Flags are 'Y' or NULL.
--   AOCCFL   1st occurrence within subject        by subject,            earliest (ASTDT, AESEQ)
--   AOCCSFL  1st occurrence of SOC                by subject x AEBODSYS,  earliest
--   AOCCPFL  1st occurrence of preferred term     by subject x SOC x PT,  earliest
--   AOCCIFL  1st max grade occurrence             by subject,            highest ATOXGRN, then earliest
--   AOCCSIFL 1st max grade occurrence within SOC  by subject x AEBODSYS,  highest ATOXGRN, then earliest
--   AOCCPIFL 1st max grade occurrence within PT   by subject x SOC x PT,  highest ATOXGRN, then earliest
-- "Intensity" is the CTCAE grade (ATOXGRN): these studies grade toxicity, not
-- mild/moderate/severe. PT is taken within its SOC (AEBODSYS, AEDECOD), the
-- pair analysis.ae_by_term counts by, so a PT a site coded under two SOCs is
-- flagged once in each. Ties on the date are broken by AESEQ, as in admiral.
-- Partitioning by TRTEMFL keeps non-emergent AEs out of the ranking; the
-- outer case leaves them NULL.
{%- set earliest = 'ASTDT, AESEQ' %}
{%- set worst_then_earliest = 'ATOXGRN desc, ASTDT, AESEQ' %}
{%- set flags = [
    ('AOCCFL', '', earliest),
    ('AOCCSFL', ', AEBODSYS', earliest),
    ('AOCCPFL', ', AEBODSYS, AEDECOD', earliest),
    ('AOCCIFL', '', worst_then_earliest),
    ('AOCCSIFL', ', AEBODSYS', worst_then_earliest),
    ('AOCCPIFL', ', AEBODSYS, AEDECOD', worst_then_earliest),
] %}

-- Every column of int_ae_derived, then the six flags: the final `select *` is
-- meant (hence the noqa for ambiguous.column_count).
select
    *,  -- noqa: AM04
    {%- for name, within, order_by in flags %}
    case
        when TRTEMFL = 'Y' and row_number() over (
            partition by STUDYID, USUBJID, TRTEMFL{{ within }} order by {{ order_by }}
        ) = 1 then 'Y'
    end as {{ name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
from {{ ref('int_ae_derived') }}
