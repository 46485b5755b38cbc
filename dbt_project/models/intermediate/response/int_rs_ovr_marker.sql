-- Investigator overall responses (OVR) after the study's CR marker rule.
-- The rule itself lives in macro apply_cr_marker_rule (macros/cr_marker_rule.sql),
-- shared with the warehouse's RECIST response (int_rs_ovr_recist_marker).
{{ apply_cr_marker_rule(ref('int_rs_ovr_timepoints')) }}
