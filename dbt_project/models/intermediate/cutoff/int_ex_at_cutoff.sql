-- EX periods as known at the data cut-off (macro records_at_cutoff): those
-- started (EXSTDT) on or before it. A period that ends after the cut-off was
-- ongoing at it: EXENDT NULL, its end not known yet (as a transfer exported on
-- the cut-off date would have it; TRTEDT then takes its EXSTDT, the spec's
-- rule for an ongoing period).
{{ records_at_cutoff(
    ref('stg_site__ex'),
    'r.EXSTDT',
    replace={'EXENDT': known_at_cutoff('r.EXENDT', 'r.EXENDT')}
) }}
