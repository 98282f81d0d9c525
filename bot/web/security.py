"""Accounts, sessions, CSRF and the login rate limit for the web console.

Passwords are argon2 hashes (argon2-cffi). Sessions are Starlette's signed cookies
(HttpOnly, SameSite=Lax; Secure with ``WEB_SECURE_COOKIES``). Every state-changing request
carries the session's CSRF token in the ``X-CSRF-Token`` header (or a ``csrf`` form field).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request

from knowledge.errors import InputError

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
LOGIN_ATTEMPTS, LOGIN_WINDOW = 5, 300.0  # failed logins per name and per address
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InputError("the password must have at least 8 characters")
    return _HASHER.hash(password)


def password_ok(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        _HASHER.hash(password)  # as slow as a real check: no timing hint that the name is unknown
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_name(name: str) -> str:
    """An admin name as stored, or ``InputError`` saying what is allowed."""
    name = name.strip().lower()
    if not 1 <= len(name) <= 64 or not set(name) <= NAME_CHARS:
        raise InputError("admin names are 1-64 letters, digits, '.', '_' or '-'")
    return name


def secret_key(configured: str, home: Path) -> str:
    """``WEB_SECRET_KEY``, or a random key kept (owner-only) in ``home/web-secret``."""
    if configured:
        return configured
    path = home / "web-secret"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


class LoginLimiter:
    """Refuses logins for a name or a client address with ``attempts`` failures in the last
    ``window`` seconds (a failure log the core ``RateLimiter``, which counts every call,
    does not keep)."""

    def __init__(self, attempts: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts, self.window, self.clock = attempts, window, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, *keys: str) -> bool:
        now = self.clock()
        with self._lock:
            for key in keys:
                failures = self._failures[key]
                while failures and now - failures[0] >= self.window:
                    failures.popleft()
            return any(len(self._failures[key]) >= self.attempts for key in keys)

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures[key].append(self.clock())


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def require_csrf(request: Request, sent: str | None) -> None:
    expected = request.session.get("csrf")
    if not (isinstance(expected, str) and sent and hmac.compare_digest(expected, sent)):
        raise HTTPException(403, "missing or wrong CSRF token — reload the page and try again")


def current_admin(request: Request) -> str | None:
    name = request.session.get("admin")
    return name if isinstance(name, str) else None
