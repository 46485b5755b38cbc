-- AEs as known at the data cut-off (macro records_at_cutoff): those whose
-- start may be on or before it (earliest possible day of AESTDTC; this is the
-- same as ASTDT <= cut-off, since ASTDT is that day or TRTSDT, itself on or
-- before the cut-off). An AE whose end (AENDT as int_ae_dates imputes it: a
-- partial end at its latest possible day, never after death) is after the
-- cut-off was ongoing at it: AEENDTC NULL. AEs keep the other values as sent.
{{ records_at_cutoff(
    ref('stg_site__ae'),
    earliest_possible_date('r.AESTDTC'),
    replace={'AEENDTC': known_at_cutoff('r.AEENDTC', imputed_ae_end('r.AEENDTC', 'death.DTHDT'))},
    joins='left join ' ~ ref('int_subject_death') ~ ' as death'
        ~ ' on death.STUDYID = r.STUDYID and death.USUBJID = r.USUBJID'
) }}
