-- Subjects as known at the data cut-off (macro records_at_cutoff): enrolled
-- (ENRLDT) on or before it. A subject enrolled after it is not in the cut and
-- none of their records count (every int_<domain>_at_cutoff keeps only the
-- subjects here). A death after the cut-off is not known at it: DTHDT and
-- DTHFL are NULL (the subject was alive at the cut-off).
{{ records_at_cutoff(
    ref('stg_site__dm'),
    'r.ENRLDT',
    by_subject=false,
    replace={
        'DTHDT': known_at_cutoff('r.DTHDT', 'r.DTHDT'),
        'DTHFL': known_at_cutoff('r.DTHFL', 'r.DTHDT')
    }
) }}
