-- DS disposition events as known at the data cut-off (macro records_at_cutoff): those
-- dated (DSSTDTC) on or before it, of subjects enrolled by then.
{{ records_at_cutoff(ref('stg_site__ds'), 'r.DSSTDT') }}
