{#- Rows of raw.<domain> that belong to each site's CURRENT accepted transfer.
    raw.* keeps every accepted transfer (cumulative snapshots); taking only the
    current one per site means a subject is never counted twice. -#}
{% macro current_transfer_rows(domain) -%}
    select r.*
    from {{ source('raw', domain) }} as r
    inner join {{ source('audit', 'transfers') }} as t
        on t.STUDYID = r._studyid
       and t.SITEID = r._siteid
       and t.TRANSFER_ID = r._transfer_id
    where t.CURRENT = 'Y'
{%- endmacro %}
