-- Warehouse RECIST 1.1 responses (OVRRECIS) with ANL01FL and ADY: the same
-- analysis window as OVR (macro response_analysis_window), ending at the first
-- OVRRECIS PD.
{{ response_analysis_window(ref('int_rs_ovr_recist_marker')) }}
