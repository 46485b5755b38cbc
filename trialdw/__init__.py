"""trialdw: clinical trial data warehouse."""
