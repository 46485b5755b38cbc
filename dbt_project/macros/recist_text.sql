{#- A diameter or sum in mm as short text for messages: 70.000 -> '70', 12.5 -> '12.5'. -#}
{% macro mm_text(expr) -%}
    regexp_replace(cast(cast({{ expr }} as decimal(18, 1)) as {{ dbt.type_string() }}), '[.]0$', '')
{%- endmacro %}

{#- Change of `value` from `reference` as signed text: a percent with one
    decimal ('-30.0%', '+20.0%'), or in mm when the reference is 0 (a nadir of
    0 after all lesions disappeared has no percent change: '+5 mm'). -#}
{% macro change_text(value, reference) -%}
    {#- The percent in DOUBLE, as DuckDB divides DECIMALs (Spark would divide
        them exactly), rounded as DuckDB rounds (macro round_double). -#}
    {%- set percent = 'cast(100 * (' ~ value ~ ' - ' ~ reference ~ ') as double) / cast(' ~ reference ~ ' as double)' -%}
    case when {{ value }} >= {{ reference }} then '+' else '' end
    || case
        when {{ reference }} > 0 then
            cast(cast({{ round_double(percent, 1) }} as decimal(18, 1)) as {{ dbt.type_string() }}) || '%'
        else {{ mm_text(value ~ ' - ' ~ reference) }} || ' mm'
    end
{%- endmacro %}
