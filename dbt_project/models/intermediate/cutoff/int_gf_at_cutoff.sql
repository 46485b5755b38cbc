-- A view, not a table like the other intermediates: 350,000 rows a site and
-- read once, by int_gf_expression (itself a view read once, by adgf), so adgf
-- computes the chain in one query instead of writing it twice.
{{ config(materialized='view') }}
-- GF rows as known at the data cut-off (macro records_at_cutoff): those of the
-- samples dated on or before it, whole samples only (int_sample_dates).
{{ records_at_cutoff(
    ref('stg_site__gf'),
    'sample.SAMPLE_DT',
    joins='inner join ' ~ ref('int_sample_dates') ~ ' as sample'
        ~ ' on sample.STUDYID = r.STUDYID and sample.USUBJID = r.USUBJID and sample.REFID = r.GFREFID'
) }}
