"""Dashboard sessions: log in with an API key, carry a signed HttpOnly cookie.

The cookie holds only key *ids* (never tokens), the active mode, an expiry and a random session id,
signed with HMAC-SHA256. Every request re-reads the keys by id, so revoking a key ends its sessions at
once; logging out records the session id as revoked in the database, so a copy of the cookie taken
before the logout is refused too (by every worker, after a restart as well).
The signing secret is ``MB_SECRET_KEY`` when set; otherwise a random secret kept in
``MB_SECRET_FILE`` (default ``var/secret_key``, created 0600 on first use, shared by workers);
if that file cannot be written, a per-process secret (sessions then end on restart).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from fastapi import HTTPException, Request

from ..errors import Unauthorized
from ..storage import dashboard_queries as q
from ..storage import ui_sessions_repo
from ..storage.keys_repo import ENVIRONMENTS, ApiKey

log = logging.getLogger("meterbase.dashboard")

COOKIE = "mb_session"
MAX_AGE = 12 * 3600  # seconds
_CONTEXT = b"meterbase-dashboard-session-v1|"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _read_or_create(path: Path) -> bytes | None:
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another worker won the race: use its secret
                pass
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32) + "\n")
        for _ in range(50):  # the winner may still be writing
            text = path.read_text().strip()
            if len(text) >= 32:
                return text.encode()
            time.sleep(0.02)
    except OSError as exc:
        log.warning("dashboard: cannot use secret file %s (%s); sessions will not survive a restart", path, exc)
    return None


def load_secret() -> bytes:
    env = os.environ.get("MB_SECRET_KEY", "").strip()
    if env:
        return env.encode()
    secret = _read_or_create(Path(os.environ.get("MB_SECRET_FILE") or "var/secret_key"))
    return secret or secrets.token_bytes(32)


@dataclass
class SessionData:
    keys: dict[str, str] = field(default_factory=dict)  # environment -> key id
    mode: str | None = None
    exp: int = 0
    sid: str = ""  # random id of this login (kept across mode switches); listed as revoked at logout


class Signer:
    def __init__(self, secret: bytes):
        self._secret = secret

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, _CONTEXT + payload.encode(), hashlib.sha256).digest())

    def dumps(self, data: SessionData) -> str:
        payload = _b64(orjson.dumps({"keys": data.keys, "mode": data.mode, "exp": data.exp, "sid": data.sid}))
        return f"{payload}.{self._mac(payload)}"

    def loads(self, cookie: str | None, now: float | None = None) -> SessionData | None:
        if not cookie or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            raw = orjson.loads(_unb64(payload))
            keys = {str(k): str(v) for k, v in dict(raw["keys"]).items() if k in ENVIRONMENTS}
            data = SessionData(keys=keys, mode=raw.get("mode"), exp=int(raw["exp"]), sid=str(raw["sid"]))
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        if len(data.sid) < 16:
            return None
        if data.exp < (time.time() if now is None else now):
            return None
        return data


@dataclass(frozen=True)
class UiSession:
    """A logged-in dashboard user: the keys of the session still valid, and the active mode."""

    keys: dict[str, ApiKey]
    mode: str
    sid: str = ""
    exp: int = 0

    @property
    def environment(self) -> str:
        return self.mode

    @property
    def key(self) -> ApiKey:
        return self.keys[self.mode]

    @property
    def modes(self) -> list[str]:
        return [m for m in ENVIRONMENTS if m in self.keys]


def signer(request: Request) -> Signer:
    app = request.app
    s = getattr(app.state, "dashboard_signer", None)
    if s is None:
        s = app.state.dashboard_signer = Signer(load_secret())
    return s


def read_session(request: Request) -> UiSession | None:
    data = signer(request).loads(request.cookies.get(COOKIE))
    if data is None:
        return None
    store = request.app.state.store
    keys: dict[str, ApiKey] = {}
    with store.read() as conn:
        if ui_sessions_repo.is_revoked(conn, data.sid):
            return None
        for env, key_id in data.keys.items():
            key = q.active_key(conn, key_id)
            if key is not None and key.environment == env:
                keys[env] = key
    if not keys:
        return None
    mode = data.mode if data.mode in keys else next(m for m in ENVIRONMENTS if m in keys)
    return UiSession(keys=keys, mode=mode, sid=data.sid, exp=data.exp)


def set_session(response, request: Request, keys: dict[str, str], mode: str) -> None:
    """A new login (a fresh session id), or the current session changed (same id, new expiry)."""
    current = read_session(request)  # a revoked session is not carried on
    sid = current.sid if current is not None else secrets.token_urlsafe(18)
    data = SessionData(keys=keys, mode=mode, exp=int(time.time()) + MAX_AGE, sid=sid)
    response.set_cookie(
        COOKIE, signer(request).dumps(data), max_age=MAX_AGE, path="/ui", httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session(response, request: Request | None = None) -> None:
    """Log out: the session id is revoked server-side (copies of the cookie stop working) and the
    browser's cookie is deleted."""
    data = signer(request).loads(request.cookies.get(COOKIE)) if request is not None else None
    if data is not None:
        with request.app.state.store.write() as conn:
            ui_sessions_repo.revoke(conn, data.sid, data.exp, int(time.time()))
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="lax")


def page_session(request: Request) -> UiSession:
    """Dependency for HTML pages: the session, or a redirect to the login page."""
    s = read_session(request)
    if s is None:
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        raise HTTPException(303, "login required", headers={"Location": f"/ui/login?next={quote(nxt, safe='')}"})
    return s


def api_session(request: Request) -> UiSession:
    """Dependency for the dashboard's JSON endpoints: the session, or 401."""
    s = read_session(request)
    if s is None:
        raise Unauthorized("log in to the dashboard first (/ui/login)", "session")
    return s


def same_origin(request: Request) -> bool:
    """Defence in depth for state-changing form posts (SameSite=Lax already blocks cross-site ones)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def csrf_token(request: Request) -> str:
    """A token bound to this session's cookie, for the dashboard's state-changing forms."""
    cookie = request.cookies.get(COOKIE, "")
    return _b64(hmac.new(signer(request)._secret, b"meterbase-dashboard-csrf|" + cookie.encode(), hashlib.sha256).digest())


def csrf_ok(request: Request, token: str | None) -> bool:
    """A form post is ours: same origin, and it carries this session's CSRF token."""
    return bool(token) and same_origin(request) and hmac.compare_digest(token, csrf_token(request))
