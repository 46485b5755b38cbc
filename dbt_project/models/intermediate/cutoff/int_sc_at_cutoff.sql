-- SC baseline characteristics as known at the data cut-off (macro records_at_cutoff): those
-- dated (SCDTC) on or before it, of subjects enrolled by then.
{{ records_at_cutoff(ref('stg_site__sc'), 'r.SCDT') }}
