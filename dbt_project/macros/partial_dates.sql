{#- Bounds of a partial ISO date (YYYY, YYYY-MM or YYYY-MM-DD as text), for
    data review: "is this record certainly after / before that date?" without
    imputing anything. Analysis imputation lives in int_ae_dates. -#}
{% macro earliest_possible_date(text_expr) -%}
    case length({{ text_expr }})
        when 10 then {{ cast_text(text_expr, 'date') }}
        when 7 then {{ cast_text(text_expr ~ " || '-01'", 'date') }}
        when 4 then make_date({{ cast_text(text_expr, 'integer') }}, 1, 1)
    end
{%- endmacro %}

{% macro latest_possible_date(text_expr) -%}
    case length({{ text_expr }})
        when 10 then {{ cast_text(text_expr, 'date') }}
        when 7 then last_day({{ cast_text(text_expr ~ " || '-01'", 'date') }})
        when 4 then make_date({{ cast_text(text_expr, 'integer') }}, 12, 31)
    end
{%- endmacro %}

{#- The analysis end date of an AE (analysis spec, ADAE): a complete AEENDTC as
    sent; a partial one at its latest possible day (missing day -> last day of
    the month, missing month -> 31 December), never after the date of death.
    NULL = ongoing. Used by int_ae_dates (AENDT) and int_ae_at_cutoff (is the
    end known at the cut-off?), so both judge the same date. -#}
{% macro imputed_ae_end(text_expr, death_expr) -%}
    case
        when length({{ text_expr }}) = 10 then {{ cast_text(text_expr, 'date') }}
        when length({{ text_expr }}) in (4, 7)
            then least({{ latest_possible_date(text_expr) }}, coalesce({{ death_expr }}, date '9999-12-31'))
    end
{%- endmacro %}
