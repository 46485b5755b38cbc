"""HTTP-level protections of the served review app, in one place.

- Security headers on every response: a Content-Security-Policy that allows
  only the app's own script and style files (no inline script, nothing from
  elsewhere, no framing), ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``, no caching of
  pages and API answers (they hold trial data), HSTS when served over https.
- Every request that changes something (POST/PUT/PATCH/DELETE) must be JSON
  (else 415; a cross-site HTML form cannot send JSON) and small, with its size
  announced (else 413 / 411), the login included; all but the login also need
  a live session (else 401) and its CSRF token in ``X-CSRF-Token`` (else 403).
"""

from __future__ import annotations

import logging

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("trialdw.review")

COOKIE = "trialdw_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_SESSION_NEEDED = frozenset({"/api/login"})
MAX_BODY = 64 * 1024

APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# Report files (self-contained HTML written by the night) may carry inline styles; never scripts.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'none'"


def is_https(request: Request) -> bool:
    """Behind a TLS-terminating reverse proxy uvicorn takes the scheme from X-Forwarded-Proto."""
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", path="/", secure=is_https(request), max_age=None
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=is_https(request))


class GuardMiddleware(BaseHTTPMiddleware):
    """Session + CSRF + content checks before any change; security headers after every answer."""

    def __init__(self, app, authenticate):
        super().__init__(app)
        self.authenticate = authenticate  # request -> Session | None

    async def dispatch(self, request: Request, call_next):
        if request.method in UNSAFE_METHODS:
            refusal = self.refuse(request)
            if refusal is not None:
                return self.harden(refusal, request)
        try:
            response = await call_next(request)
        except Exception:  # a bug must not answer without the headers, nor with its traceback
            log.exception("error answering %s %s", request.method, request.url.path)
            response = JSONResponse({"detail": "internal error (see the server log)"}, status_code=500)
        return self.harden(response, request)

    def refuse(self, request: Request) -> Response | None:
        length = request.headers.get("content-length")
        if "transfer-encoding" in request.headers:  # a body of unknown size: never read it
            return JSONResponse({"detail": "send a Content-Length"}, status_code=411)
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"detail": "request body too large"}, status_code=413)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if length not in (None, "0") and content_type != "application/json":
            return JSONResponse({"detail": "send JSON (Content-Type: application/json)"}, status_code=415)
        if request.url.path in NO_SESSION_NEEDED:
            return None
        session = self.authenticate(request)
        if session is None:
            return JSONResponse({"detail": "not logged in"}, status_code=401)
        if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
            return JSONResponse({"detail": f"missing or wrong {CSRF_HEADER} header"}, status_code=403)
        return None

    @staticmethod
    def harden(response: Response, request: Request) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", APP_CSP)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if request.url.path.startswith("/static/"):
            headers["Cache-Control"] = "no-cache"
        else:
            headers["Cache-Control"] = "no-store"
        if is_https(request):
            headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
