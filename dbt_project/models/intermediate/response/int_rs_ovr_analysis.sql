-- Investigator overall responses (OVR) with ANL01FL, ADY and the per-study
-- response parameters. The window rule lives in macro response_analysis_window
-- (macros/response_analysis_window.sql), shared with OVRRECIS
-- (int_rs_ovr_recist_analysis).
{{ response_analysis_window(ref('int_rs_ovr_marker')) }}
