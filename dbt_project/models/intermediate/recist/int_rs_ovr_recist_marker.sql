-- Warehouse RECIST 1.1 responses (OVRRECIS) after the study's CR marker rule,
-- the same rule as the investigator's OVR (macro apply_cr_marker_rule).
{{ apply_cr_marker_rule(ref('int_rs_ovr_recist')) }}
