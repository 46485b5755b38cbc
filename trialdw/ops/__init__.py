"""Running trialdw unattended: the run log, the nightly schedule, retries, test hooks.

See docs/operations.md.
"""
