-- GF rows as known at the data cut-off (macro records_at_cutoff): those of the
-- samples dated on or before it, whole samples only (int_sample_dates).
{{ records_at_cutoff(
    ref('stg_site__gf'),
    'sample.SAMPLE_DT',
    joins='inner join ' ~ ref('int_sample_dates') ~ ' as sample'
        ~ ' on sample.STUDYID = r.STUDYID and sample.USUBJID = r.USUBJID and sample.REFID = r.GFREFID'
) }}
