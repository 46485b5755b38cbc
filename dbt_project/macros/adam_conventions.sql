{#- ADaM conventions shared by the BDS (adrs, adtte, adcp, adgf) and OCCDS (adae)
    datasets. docs/derivations.md, "ADaM conventions". -#}

{#- ADSL variables carried to a BDS/OCCDS dataset (ADaM IG: the subject-level
    variables an analysis needs travel with the records):
      1. SITEID, TRT01P, TRT01A and the population flags ITTFL, SAFFL, EFFFL
         are copied from the subject's ADSL row, unchanged.
    `adsl` is the alias of adam.adsl in the calling model. -#}
{% macro adsl_carried_variables(adsl) -%}
    {{ adsl }}.SITEID,
    {{ adsl }}.TRT01P,
    {{ adsl }}.TRT01A,
    {{ adsl }}.ITTFL,
    {{ adsl }}.SAFFL,
    {{ adsl }}.EFFFL
{%- endmacro %}

{#- Record-level treatment of a single-period study (ADaM IG TRTP/TRTA):
      1. every record of a subject belongs to treatment period 01 (the
         studies have one period), so
      2. TRTP/TRTPN = TRT01P/TRT01PN (planned: the arm, numbered by its
         position in the study file), and
      3. TRTA/TRTAN = TRT01A/TRT01AN (actual: NULL for a subject never dosed).
    A single-arm study has one arm, so TRTP = TRT01P = ARM for every record. -#}
{% macro period_treatment(adsl) -%}
    {{ adsl }}.TRT01P as TRTP,
    {{ adsl }}.TRT01PN as TRTPN,
    {{ adsl }}.TRT01A as TRTA,
    {{ adsl }}.TRT01AN as TRTAN
{%- endmacro %}

{#- ASEQ, the analysis sequence number (ADaM IG: unique within subject):
      1. the records of each subject (STUDYID, USUBJID) are ordered by
         `order_by`, which must make the order total (end with the record key);
      2. ASEQ = 1, 2, ... in that order (BIGINT: Spark's row_number is an INT,
         DuckDB's a BIGINT). -#}
{% macro analysis_sequence_number(order_by) -%}
    cast(row_number() over (partition by STUDYID, USUBJID order by {{ order_by }}) as bigint)
{%- endmacro %}
