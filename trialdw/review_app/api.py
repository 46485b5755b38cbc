"""The review app's JSON API.

| method | path | who | what |
|---|---|---|---|
| GET | /api/health | anyone | ``{"status": "ok"}`` (for probes; says nothing about data) |
| POST | /api/login | anyone | ``{"user", "password"}`` → session cookie + ``{"csrf_token", "user", "role"}`` |
| POST | /api/logout | session | ends the session |
| GET | /api/session | session | who is logged in, the CSRF token, the states this user may set |
| GET | /api/findings | session | one page of findings with their state (filters below) |
| GET | /api/findings/{FINDING_ID} | session | the finding, its occurrences and its annotation history |
| POST | /api/findings/{FINDING_ID}/annotations | data manager | record a state change → 201 |
| GET | /api/summary | session | counts and the summary by rule, with the live states |
| GET | /api/facets | session | the values each filter can take |
| GET | /api/states | session | the states and reasons, with what they mean |

Filters of /api/findings: study, site, domain, rule, severity, status, state, change
(several values comma-separated mean "any of"); paging: page (from 1), page_size (≤ 500).
An annotation is ``{"state", "comment", "query_ref", "reason", "expected_state"}``.

401 without a session, 403 for a change without the CSRF header or by a viewer,
404 for an unknown finding, 409 when the finding changed meanwhile or the data
contradicts the reason, 422 for a change the workflow does not allow, 429 while a
user name or address is locked out after failed logins.
"""

# No "from __future__ import annotations": FastAPI reads the Annotated dependencies defined
# inside api_router() from the evaluated annotations.

import logging
import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from trialdw.review_app.accounts import DATA_MANAGER, MAX_PASSWORD
from trialdw.review_app.queries import FILTERS, MAX_PAGE_SIZE, parse_filters
from trialdw.review_app.security import COOKIE, clear_session_cookie, set_session_cookie
from trialdw.review_app.sessions import Session
from trialdw.review_app.states import (
    LABELS,
    MAX_COMMENT,
    MAX_QUERY_REF,
    MEANINGS,
    REASONS,
    STATES,
    Change,
    TransitionError,
    check_person_change,
    targets_for,
)

log = logging.getLogger("trialdw.review")


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class AnnotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: str = Field(max_length=40)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)
    query_ref: str | None = Field(default=None, max_length=MAX_QUERY_REF)
    reason: str | None = Field(default=None, max_length=40)
    expected_state: str | None = Field(default=None, max_length=40)  # the state the person saw


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _printable(name: str) -> str:
    """A typed user name, safe for one log line."""
    return repr(name[:64])


def api_router(review) -> APIRouter:
    router = APIRouter(prefix="/api")

    def session(request: Request) -> Session:
        found = review.authenticate(request)
        if found is None:
            raise HTTPException(401, "not logged in")
        return found

    LoggedIn = Annotated[Session, Depends(session)]

    def editor(current: LoggedIn) -> Session:
        if current.role != DATA_MANAGER:
            raise HTTPException(403, "a viewer cannot change anything")
        return current

    Editor = Annotated[Session, Depends(editor)]

    @router.get("/health")
    def health():
        return {"status": "ok"}

    @router.post("/login")
    def login(body: LoginIn, request: Request):
        client = _client(request)
        wait = review.throttle.retry_after(body.user, client)
        if wait > 0:
            log.warning("login refused (locked out) for user %s from %s", _printable(body.user), client)
            review.store.log_event("login_locked", body.user[:64], client)
            return JSONResponse(
                {"detail": "too many failed logins; try again later"},
                status_code=429,
                headers={"Retry-After": str(math.ceil(wait))},
            )
        account = review.users_authenticate(body.user, body.password)
        if account is None:
            locked = review.throttle.failed(body.user, client)
            log.warning(
                "failed login for user %s from %s%s",
                _printable(body.user),
                client,
                " (now locked out)" if locked else "",
            )
            review.store.log_event("login_failed", body.user[:64], client, "locked out" if locked else None)
            return JSONResponse({"detail": "wrong user name or password"}, status_code=401)
        review.throttle.succeeded(body.user, client)
        review.sessions.end(request.cookies.get(COOKIE))  # never carry an old session across a login
        token, new = review.sessions.create(account.name, account.role)
        review.store.log_event("login", account.name, client)
        log.info("login: %s (%s) from %s", account.name, account.role, client)
        response = JSONResponse({"csrf_token": new.csrf_token, "user": account.name, "role": account.role})
        set_session_cookie(response, request, token)
        return response

    @router.post("/logout")
    def logout(request: Request, current: LoggedIn):
        review.sessions.end(request.cookies.get(COOKIE))
        review.store.log_event("logout", current.user, _client(request))
        response = JSONResponse({"detail": "logged out"})
        clear_session_cookie(response, request)
        return response

    @router.get("/session")
    def session_info(current: LoggedIn):
        return {
            "user": current.user,
            "role": current.role,
            "csrf_token": current.csrf_token,
            "can_edit": current.role == DATA_MANAGER,
            "targets": list(targets_for(current.role)),
        }

    @router.get("/findings")
    def findings(request: Request, current: LoggedIn, page: int = 1, page_size: int = 100):
        if not 1 <= page_size <= MAX_PAGE_SIZE or page < 1:
            raise HTTPException(422, f"page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}")
        unknown = set(request.query_params) - {*FILTERS, "page", "page_size"}
        if unknown:
            raise HTTPException(422, f"unknown filter(s): {', '.join(sorted(unknown))}; filters: {', '.join(FILTERS)}")
        return review.reader.findings(parse_filters(dict(request.query_params)), page, page_size)

    def detail(finding_id: str, current: Session) -> dict:
        found = review.reader.finding(finding_id)
        if found is None:
            raise HTTPException(404, "no such finding in the published warehouse")
        return {
            **found,
            "history": [e.as_dict() for e in review.store.history(finding_id)],
            "targets": list(targets_for(current.role)),
        }

    @router.get("/findings/{finding_id}")
    def finding(finding_id: str, current: LoggedIn):
        return detail(finding_id, current)

    @router.post("/findings/{finding_id}/annotations", status_code=201)
    def annotate(finding_id: str, body: AnnotationIn, request: Request, current: Editor):
        found = review.reader.finding(finding_id)
        if found is None:
            raise HTTPException(404, "no such finding in the published warehouse")

        def check(state_now: str, change: Change) -> Change:
            return check_person_change(state_now, change, warehouse_status=found["STATUS"])

        try:
            entry = review.store.append(
                finding_id,
                current.user,
                Change(body.state, body.comment, body.query_ref, body.reason),
                expected_state=body.expected_state,
                check=check,
            )
        except TransitionError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        log.info("%s: %s %s -> %s", current.user, finding_id, entry.FROM_STATE, entry.TO_STATE)
        return {"entry": entry.as_dict(), "finding": detail(finding_id, current)}

    @router.get("/summary")
    def summary(current: LoggedIn):
        return review.reader.summary()

    @router.get("/facets")
    def facets(current: LoggedIn):
        return review.reader.facets()

    @router.get("/states")
    def states(current: LoggedIn):
        return {
            "states": [{"state": s, "label": LABELS[s], "meaning": MEANINGS[s]} for s in STATES],
            "reasons": [{"reason": r, "label": LABELS[r]} for r in REASONS],
        }

    return router
