{#- CDISC study day: no day 0. Day 1 is the reference date itself; the day
    before it is day -1. -#}
{% macro study_day(date_expr, reference_expr) -%}
    case
        when {{ date_expr }} is null or {{ reference_expr }} is null then null
        when {{ date_expr }} >= {{ reference_expr }}
            then {{ days_between(reference_expr, date_expr) }} + 1
        else {{ days_between(reference_expr, date_expr) }}
    end
{%- endmacro %}

{#- Data cut-off (config.studies.DATA_CUTOFF, NULL = none): is a date on or
    before it? Undated values (NULL) are kept. Applied once, by the models of
    intermediate/cutoff (macro records_at_cutoff, data_cutoff.sql). -#}
{% macro on_or_before_cutoff(date_expr, cutoff_expr) -%}
    ({{ cutoff_expr }} is null or {{ date_expr }} is null or {{ date_expr }} <= {{ cutoff_expr }})
{%- endmacro %}

{#- The study's reference date (config.studies.REF_DATE, analysis spec
    "Reference date"): TRTSDT, or ENRLDT for a study that counts from
    randomisation. It starts the response analysis window, the SD minimum and
    PFS (STARTDT, and the censoring date when there is no adequate assessment).
    `adsl` is the alias of a relation with TRTSDT and ENRLDT. -#}
{% macro reference_date(ref_date_expr, adsl='adsl') -%}
    case {{ ref_date_expr }} when 'ENRLDT' then {{ adsl }}.ENRLDT else {{ adsl }}.TRTSDT end
{%- endmacro %}

{#- A complete ISO date (YYYY-MM-DD) from a partial-date text column, else NULL. -#}
{% macro complete_date_or_null(text_expr) -%}
    case when length({{ text_expr }}) = 10 then {{ cast_text(text_expr, 'date') }} end
{%- endmacro %}
