"""Server-side sessions, CSRF tokens and the failed-login lockout of the review app.

Sessions live in the server's memory (one process serves the app; a restart
logs everyone out, which is acceptable for a morning review tool and means no
session secret ever rests on disk). The browser holds a random 32-byte token in
an HttpOnly, SameSite=Strict cookie; the server keeps only its sha256, so even a
memory dump of the session table gives no usable cookie. A session ends after
``idle_seconds`` without a request and, however active, ``absolute_seconds``
after login.

Each session has its own CSRF token (also 32 random bytes), returned by the
login and rendered into the page; every request that changes something must
send it in ``X-CSRF-Token``, compared in constant time. SameSite=Strict alone
already keeps the cookie off cross-site requests; the token is the second lock.

Failed logins: after ``max_failures`` failures within ``window_seconds`` for one
user name, or from one client address, further attempts for that name / from
that address are refused for ``lock_seconds`` (HTTP 429 with Retry-After),
whether the password would have been right or not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 8 * 60 * 60
MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Session:
    user: str
    role: str
    csrf_token: str
    created: float
    last_seen: float

    def csrf_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode("utf-8"), self.csrf_token.encode("utf-8"))


class SessionStore:
    def __init__(
        self,
        idle_seconds: float = IDLE_SECONDS,
        absolute_seconds: float = ABSOLUTE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.idle_seconds, self.absolute_seconds, self.clock = idle_seconds, absolute_seconds, clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen > self.idle_seconds or now - session.created > self.absolute_seconds

    def create(self, user: str, role: str) -> tuple[str, Session]:
        """A new session; returns (cookie token, session). The token itself is not kept."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(user, role, secrets.token_urlsafe(32), now, now)
        with self._lock:
            for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
                del self._sessions[key]
            self._sessions[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie token (and it counts as activity), or None."""
        if not token or len(token) > 200:
            return None
        key, now = _digest(token), self.clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[key]
                return None
            session.last_seen = now
            return session

    def end(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            return self._sessions.pop(_digest(token), None)

    def end_user(self, user: str) -> int:
        """End every session of a user (disabled account)."""
        with self._lock:
            keys = [k for k, s in self._sessions.items() if s.user == user]
            for key in keys:
                del self._sessions[key]
        return len(keys)

    def __len__(self) -> int:
        return len(self._sessions)


class LoginThrottle:
    """Counts failed logins per user name and per client address; locks either out for a while."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window_seconds: float = WINDOW_SECONDS,
        lock_seconds: float = LOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_failures, self.window, self.lock_seconds, self.clock = (
            max_failures,
            window_seconds,
            lock_seconds,
            clock,
        )
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(user: str, client: str) -> tuple[str, str]:
        return "user:" + str(user)[:64], "addr:" + str(client)[:64]

    def retry_after(self, user: str, client: str) -> float:
        """Seconds until this user name / address may try again (0: now)."""
        now = self.clock()
        with self._lock:
            return max([self._locked_until.get(k, 0) - now for k in self._keys(user, client)] + [0])

    def failed(self, user: str, client: str) -> bool:
        """Record a failure; True when it locked the name or the address."""
        now = self.clock()
        locked = False
        with self._lock:
            if len(self._failures) > 10_000:  # a flood of made-up names must not grow memory without bound
                self._prune(now)
            for key in self._keys(user, client):
                times = self._failures.setdefault(key, deque())
                times.append(now)
                while times and now - times[0] > self.window:
                    times.popleft()
                if len(times) >= self.max_failures:
                    self._locked_until[key] = now + self.lock_seconds
                    times.clear()
                    locked = True
        return locked

    def succeeded(self, user: str, client: str) -> None:
        """A right password clears the name's count (the address's decays: it may be guessing elsewhere)."""
        with self._lock:
            self._failures.pop(self._keys(user, client)[0], None)

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if not t or now - t[-1] > self.window]:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until <= now]:
            del self._locked_until[key]
