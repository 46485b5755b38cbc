"""External conformance: public reference data converted into our site-export
format, so the whole pipeline can be checked against an independent ADaM."""
