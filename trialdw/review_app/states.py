"""The query workflow of a finding: states, who may move it where, and why.

A finding's warehouse STATUS (``open`` / ``resolved``) says what the data shows;
its workflow STATE says what the data managers have done about it::

    new ─► acknowledged ─► query_raised ─► answered ─► closed (resolved_by_data | accepted_as_is)

Choices (docs/data-managers.md, "Query states"):

- A data manager may move a finding from any state to ``acknowledged``,
  ``query_raised``, ``answered`` or ``closed``: steps may be skipped (raise a
  query at once, close as accepted at once) and taken back (a site's answer
  that does not settle it goes back to ``query_raised``). Re-opening a closed
  finding by hand is a move to one of those states.
- Nobody but the nightly run (``trialdw-nightly``) moves a finding to ``new``:
  that is what a closed-as-resolved finding becomes when a later transfer
  has it again. A mistaken entry is never edited: the correction is a new entry.
- ``closed`` needs a reason. ``resolved_by_data`` is only true when the
  warehouse says the finding is resolved (the nightly run records it then by
  itself), so a person may give it only for a resolved finding;
  ``accepted_as_is`` (the site confirmed the value) needs a comment saying why.
- An entry to the state the finding already has is a note (a comment, a
  corrected query reference) and needs a comment.
"""

from __future__ import annotations

from dataclasses import dataclass

NEW = "new"
ACKNOWLEDGED = "acknowledged"
QUERY_RAISED = "query_raised"
ANSWERED = "answered"
CLOSED = "closed"
STATES = (NEW, ACKNOWLEDGED, QUERY_RAISED, ANSWERED, CLOSED)
PERSON_TARGETS = (ACKNOWLEDGED, QUERY_RAISED, ANSWERED, CLOSED)
NOT_CLOSED = (NEW, ACKNOWLEDGED, QUERY_RAISED, ANSWERED)

RESOLVED_BY_DATA = "resolved_by_data"
ACCEPTED_AS_IS = "accepted_as_is"
REASONS = (RESOLVED_BY_DATA, ACCEPTED_AS_IS)

SYSTEM_USER = "trialdw-nightly"  # who the nightly's automatic entries are by

LABELS = {
    NEW: "new",
    ACKNOWLEDGED: "acknowledged",
    QUERY_RAISED: "query raised",
    ANSWERED: "answered",
    CLOSED: "closed",
    RESOLVED_BY_DATA: "resolved by data",
    ACCEPTED_AS_IS: "accepted as is",
}
MEANINGS = {
    NEW: "nobody has looked at it yet (or it came back after the data had resolved it)",
    ACKNOWLEDGED: "a data manager has seen it and is working on it",
    QUERY_RAISED: "a query was sent to the site (EDC query reference optional)",
    ANSWERED: "the site answered; a data manager has to decide",
    CLOSED: "nothing more to do: resolved by data (a later transfer no longer has it) "
    "or accepted as is (the site confirmed the value)",
}

MAX_COMMENT = 4000
MAX_QUERY_REF = 100


class TransitionError(ValueError):
    """A change the workflow does not allow; the message says why, for the person who asked."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status  # HTTP status the API answers with


@dataclass(frozen=True)
class Change:
    """One requested move, before it is checked."""

    to_state: str
    comment: str | None = None
    query_ref: str | None = None
    reason: str | None = None


def _clean(text: str | None, limit: int, what: str) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise TransitionError(f"{what} must be text")
    text = text.strip()
    if len(text) > limit:
        raise TransitionError(f"{what} is longer than {limit} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise TransitionError(f"{what} holds control characters")
    return text or None


def check_person_change(current: str, change: Change, *, warehouse_status: str | None) -> Change:
    """The change a data manager asked for, cleaned, or TransitionError.

    ``current``: the finding's state now; ``warehouse_status``: its STATUS in the
    published warehouse (``open`` / ``resolved``).
    """
    comment = _clean(change.comment, MAX_COMMENT, "comment")
    query_ref = _clean(change.query_ref, MAX_QUERY_REF, "query_ref")
    reason = change.reason or None
    to_state = change.to_state
    if to_state not in STATES:
        raise TransitionError(f"state must be one of {', '.join(PERSON_TARGETS)}")
    if to_state == NEW:
        raise TransitionError(
            "only the nightly run moves a finding back to new (when it reappears); "
            "to correct an entry, move the finding to the state it should be in"
        )
    if to_state == CLOSED:
        if reason not in REASONS:
            raise TransitionError(f"closing needs a reason: {' or '.join(REASONS)}")
        if reason == RESOLVED_BY_DATA and warehouse_status != "resolved":
            raise TransitionError(
                "the latest transfer still has this finding, so it is not resolved by data; "
                "close it as accepted_as_is (with the site's confirmation as comment) or wait for the correction",
                status=409,
            )
        if reason == ACCEPTED_AS_IS and not comment:
            raise TransitionError("accepting a value as is needs a comment saying why (e.g. what the site confirmed)")
    elif reason is not None:
        raise TransitionError("a reason is given only when closing")
    if to_state == current and not comment:
        raise TransitionError(f"the finding is already {LABELS[current]}; an entry without a change needs a comment")
    return Change(to_state, comment, query_ref, reason)


def targets_for(role: str) -> tuple[str, ...]:
    """The states a user of this role may choose (the page offers exactly these)."""
    return PERSON_TARGETS if role == "data-manager" else ()


def system_change(current: str, current_reason: str | None, warehouse_status: str) -> tuple[str, str | None] | None:
    """What the nightly run records for a finding, as (to_state, reason), or None.

    - resolved in the warehouse and not closed → closed, resolved_by_data;
    - closed as resolved_by_data but open again (a later transfer has it) → new (re-opened);
    - closed as accepted_as_is stays closed whatever the data does (the value was confirmed).
    """
    if warehouse_status == "resolved" and current != CLOSED:
        return CLOSED, RESOLVED_BY_DATA
    if warehouse_status == "open" and current == CLOSED and current_reason == RESOLVED_BY_DATA:
        return NEW, None
    return None
