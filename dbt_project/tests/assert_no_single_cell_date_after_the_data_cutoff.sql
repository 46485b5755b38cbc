-- Analysis spec, Conventions: as assert_no_analysis_date_after_the_data_cutoff,
-- for the single-cell tables (a sample is cut whole: int_sample_dates).
{{ analysis_dates_after_cutoff([('adcp', 'ADT'), ('adgf', 'ADT')]) }}
