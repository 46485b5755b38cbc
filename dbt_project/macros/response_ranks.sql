{#- Ranking used to keep one overall response per date: the worst of the day
    (NE < CR < PR < SD < NON-CR/NON-PD < PD; the larger rank is kept). -#}
{% macro worst_of_day_rank(col) -%}
    case {{ col }}
        when 'NE' then 0 when 'CR' then 1 when 'PR' then 2 when 'SD' then 3
        when 'NON-CR/NON-PD' then 4 when 'PD' then 5
    end
{%- endmacro %}

{#- Best-response order and the numeric AVAL of response records (the
    admiral "aval_resp" coding): CR 1, PR 2, SD 3, NON-CR/NON-PD 4, PD 5, NE 6.
    The smaller value is the better response. -#}
{% macro response_aval(col) -%}
    case {{ col }}
        when 'CR' then 1 when 'PR' then 2 when 'SD' then 3
        when 'NON-CR/NON-PD' then 4 when 'PD' then 5 when 'NE' then 6
    end
{%- endmacro %}
