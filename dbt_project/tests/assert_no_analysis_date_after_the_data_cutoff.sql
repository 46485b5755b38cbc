-- Analysis spec, Conventions: records dated after the data cut-off are ignored
-- by every analysis table, and censoring never goes past it. Every date of the
-- adam tables derives from the records as known at the cut-off
-- (intermediate/cutoff), so none may be after it; a row here is a date that
-- escaped the cut (RFICDT, consent before enrolment, is not an analysis date).
-- One row per (record, analysis date column) (macros/data_cutoff.sql). The
-- single-cell tables' dates: assert_no_single_cell_date_after_the_data_cutoff
-- (skipped with the single-cell models for studies without such data).
{{ analysis_dates_after_cutoff([
    ('adsl', 'ENRLDT'), ('adsl', 'TRTSDT'), ('adsl', 'TRTEDT'), ('adsl', 'DTHDT'), ('adsl', 'LSTALVDT'),
    ('adae', 'ASTDT'), ('adae', 'AENDT'),
    ('adtte', 'STARTDT'), ('adtte', 'ADT'),
    ('adrs', 'ADT'),
]) }}
