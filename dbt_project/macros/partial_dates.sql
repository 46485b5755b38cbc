{#- Bounds of a partial ISO date (YYYY, YYYY-MM or YYYY-MM-DD as text), for
    data review: "is this record certainly after / before that date?" without
    imputing anything. Analysis imputation lives in int_ae_dates. -#}
{% macro earliest_possible_date(text_expr) -%}
    case length({{ text_expr }})
        when 10 then cast({{ text_expr }} as date)
        when 7 then cast({{ text_expr }} || '-01' as date)
        when 4 then make_date(cast({{ text_expr }} as integer), 1, 1)
    end
{%- endmacro %}

{% macro latest_possible_date(text_expr) -%}
    case length({{ text_expr }})
        when 10 then cast({{ text_expr }} as date)
        when 7 then last_day(cast({{ text_expr }} || '-01' as date))
        when 4 then make_date(cast({{ text_expr }} as integer), 12, 31)
    end
{%- endmacro %}
