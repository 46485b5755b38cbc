"""The served review app: ``trialdw review serve --warehouse FILE [--host 127.0.0.1] [--port 8765]``.

FastAPI + uvicorn (both come with Prefect). One process: sessions live in its
memory (trialdw.review_app.sessions). It reads the published warehouse
read-only (trialdw.review_app.queries), writes only the annotation store
(trialdw.review_app.annotations), and knows its accounts from the users file
(trialdw.review_app.accounts). TLS belongs to a reverse proxy in front of it
(docs/data-managers.md); it listens on loopback by default.

Pages: ``/`` (the review app; without a session it redirects to ``/login``),
``/login``, ``/static/*`` (the app's own CSS/JS), ``/reports/*`` (the night's
files beside the warehouse: readiness results, findings.csv/xlsx).
API: see ``trialdw.review_app.api``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from trialdw import warehouse as wh
from trialdw.review_app.accounts import Account, AccountError, UsersFile
from trialdw.review_app.annotations import AnnotationStore
from trialdw.review_app.queries import WarehouseMissing, WarehouseReader
from trialdw.review_app.render import count_cards, reconciliation_view
from trialdw.review_app.security import COOKIE, REPORT_CSP, GuardMiddleware
from trialdw.review_app.sessions import ABSOLUTE_SECONDS, IDLE_SECONDS, LoginThrottle, Session, SessionStore
from trialdw.review_app.states import LABELS, MEANINGS, REASONS, STATES, targets_for
from trialdw.review_app.summary import Counts
from trialdw.review_app.templating import STATIC_DIR, render

log = logging.getLogger("trialdw.review")

DOWNLOADS = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class Accounts:
    """The users file, re-read only when it changed (so ``trialdw users disable`` acts at once)."""

    def __init__(self, users: UsersFile):
        self.users = users
        self._signature = object()
        self._accounts: dict[str, Account] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Account | None:
        signature = self.users.signature()
        with self._lock:
            if signature != self._signature:
                try:
                    self._accounts = {a.name: a for a in self.users.accounts()}
                except AccountError as exc:
                    log.error("%s; nobody can log in until it is fixed", exc)
                    self._accounts = {}
                self._signature = signature
            return self._accounts.get(name)


@dataclass
class ReviewApp:
    """Everything a request may need, built once per server."""

    paths: wh.WarehousePaths
    store: AnnotationStore
    users: UsersFile
    reader: WarehouseReader
    sessions: SessionStore
    throttle: LoginThrottle
    accounts: Accounts = field(init=False)

    def __post_init__(self):
        self.accounts = Accounts(self.users)

    def users_authenticate(self, name: str, password: str) -> Account | None:
        try:
            return self.users.authenticate(name, password)
        except AccountError as exc:  # e.g. the users file became readable by others
            log.error("%s; login refused", exc)
            return None

    def authenticate(self, request: Request) -> Session | None:
        """The request's live session whose account still exists and is enabled."""
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            return None
        account = self.accounts.get(session.user)
        if account is None or account.disabled:
            self.sessions.end_user(session.user)
            return None
        session.role = account.role  # a changed role counts from the next request
        return session


def _state_cards(counts: dict) -> list[dict]:
    return [
        {"key": f"state-{s}", "css": f"state-{s}", "label": f"State: {LABELS[s]}", "value": counts[f"state_{s}"]}
        for s in STATES
    ]


def _app_page(review: ReviewApp, session: Session) -> str:
    summary = review.reader.summary()
    overview = review.reader.overview()
    counts = summary["counts"]
    cards = count_cards(
        Counts(
            counts["open_reject"],
            counts["open_warning"],
            counts["new_since"],
            counts["resolved_since"],
            counts["resolved_total"],
        )
    ) + _state_cards(counts)
    readiness = review.paths.reports / "data-docs" / "index.html"
    published = dt.datetime.fromtimestamp(overview["published_mtime"], dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render(
        "app.html",
        user=session.user,
        role=session.role,
        can_edit=bool(targets_for(session.role)),
        csrf_token=session.csrf_token,
        warehouse_name=review.paths.published.name,
        published=published,
        latest_run=overview["latest_run"],
        basis=overview["basis"],
        cards=cards,
        rules=summary["rules"],
        sites=overview["sites"],
        transfers=overview["transfers"],
        recon=reconciliation_view(overview["reconciliation"]),
        facets=review.reader.facets(),
        labels=LABELS,
        states=[(s, LABELS[s], MEANINGS[s]) for s in STATES],
        targets=[(s, LABELS[s]) for s in targets_for(session.role)],
        reasons=[(r, LABELS[r]) for r in REASONS],
        data_docs="/reports/data-docs/index.html" if readiness.is_file() else None,
        downloads=[name for name in ("findings.xlsx", "findings.csv") if (review.paths.reports / name).is_file()],
    )


def create_app(
    warehouse: Path,
    *,
    idle_seconds: float = IDLE_SECONDS,
    absolute_seconds: float = ABSOLUTE_SECONDS,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    from trialdw.review_app.api import api_router

    paths = wh.WarehousePaths(Path(warehouse).resolve())
    store = AnnotationStore(paths.annotations).create()
    review = ReviewApp(
        paths=paths,
        store=store,
        users=UsersFile(paths.users),
        reader=WarehouseReader(paths.published, store),
        sessions=SessionStore(idle_seconds, absolute_seconds),
        throttle=throttle or LoginThrottle(),
    )
    app = FastAPI(title="trialdw review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.review = review
    app.add_middleware(GuardMiddleware, authenticate=review.authenticate)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api_router(review))

    @app.exception_handler(WarehouseMissing)
    def _missing(request: Request, exc: WarehouseMissing):
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request):
        session = review.authenticate(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(_app_page(review, session))

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request):
        if review.authenticate(request) is not None:
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(render("login.html", warehouse_name=paths.published.name))

    @app.get("/reports/{name:path}")
    def report_file(name: str, request: Request):
        """A file of the published night's reports folder, to people who are logged in."""
        if review.authenticate(request) is None:
            return JSONResponse({"detail": "not logged in"}, status_code=401)
        root = paths.reports.resolve()
        target = (root / name).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return JSONResponse({"detail": "not found"}, status_code=404)
        if target.suffix in DOWNLOADS:
            return FileResponse(target, media_type=DOWNLOADS[target.suffix], filename=target.name)
        if target.suffix == ".html":
            return FileResponse(
                target, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": REPORT_CSP}
            )
        return JSONResponse({"detail": "not found"}, status_code=404)

    return app


def serve(warehouse: Path, host: str, port: int, **options) -> None:
    """Run the app until interrupted (uvicorn; one process, so sessions and the lockout are shared)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(warehouse, **options)
    # proxy_headers: behind a reverse proxy on this host (trusted: 127.0.0.1 by default), the client
    # address and https come from X-Forwarded-For/-Proto, so the lockout and Secure cookies work.
    uvicorn.run(app, host=host, port=port, proxy_headers=True, server_header=False, log_level="info")
