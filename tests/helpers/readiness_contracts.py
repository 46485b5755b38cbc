"""Readiness contracts the night tests swap in (``--readiness-contract``)."""

# A readiness contract that fails every HCC-SURU-SC subject and no other: the
# night must hold SURU back and publish the other studies.
SURU_ONLY_FAILS = """\
version: 1
tables:
  adsl:
    row_ids: [USUBJID]
    derived:
      STUDY_IS_NOT_SURU: "coalesce(t.STUDYID <> 'HCC-SURU-SC', false)"
    expectations:
      - expectation: ExpectColumnValuesToBeInSet
        kwargs: {column: STUDY_IS_NOT_SURU, value_set: [true]}
        why: "Fails for every SURU subject, on purpose."
"""
