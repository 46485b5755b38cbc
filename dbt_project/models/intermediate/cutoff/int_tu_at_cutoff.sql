-- TU lesions as known at the data cut-off (macro records_at_cutoff): those
-- identified (TUDTC) on or before it, of subjects enrolled by then.
{{ records_at_cutoff(ref('stg_site__tu'), 'r.TUDT') }}
