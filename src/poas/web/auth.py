"""Admin login (scrypt password hash, server-side sessions in a signed cookie, throttling), CSRF, API
bearer tokens, and the headers every response carries (CSP, no-store)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from poas.services.admin_sessions import (
    SessionPolicy,
    check_session,
    configured_session_policy,
    end_session,
    start_session,
)
from poas.services.login_attempts import LoginPolicy, configured_policy, login_succeeded, start_attempt
from poas.settings import Settings
from poas.web.i18n import gettext as _

SESSION_COOKIE = "poas_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# scrypt cost: 2**15 * 8 * 128 bytes = 32 MiB per check; slow enough for a login, fast for one admin.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """An encoded scrypt hash: `scrypt$n$r$p$salt$hash` (salt and hash url-safe base64)."""
    if not password:
        raise ValueError("the password must not be empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against a `scrypt$…` or `pbkdf2_sha256$iterations$salt$hash` string."""
    parts = encoded.strip().split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, want = _unb64(parts[4]), _unb64(parts[5])
            got = hashlib.scrypt(
                password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=len(want)
            )
        elif parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            salt, want = _unb64(parts[2]), _unb64(parts[3])
            got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, int(parts[1]), dklen=len(want))
        else:
            return False
    except (ValueError, OverflowError):
        return False
    return hmac.compare_digest(got, want)


@dataclass
class AuthConfig:
    """What the running app checks logins and tokens against (kept on `app.state.auth`)."""

    password_hash: str | None
    session_secret: str
    admin_api_token: str | None
    shop_tokens: dict[str, str]  # shop id -> api token
    cookie_secure: str = "auto"  # auto | true | false
    # Wrong passwords are counted in the store, so every web process sees the same count.
    login_policy: LoginPolicy = field(default_factory=LoginPolicy)
    # Admin sessions live in the store (services/admin_sessions.py); the cookie only carries the id.
    session_policy: SessionPolicy = field(default_factory=SessionPolicy)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # tests drive time


def auth_config(settings: Settings) -> AuthConfig:
    pw = settings.admin_password_hash.get_secret_value() if settings.admin_password_hash else None
    secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    return AuthConfig(
        password_hash=pw or None,
        # Without a configured secret, sessions last as long as this process (one-process default).
        session_secret=secret or secrets.token_urlsafe(32),
        admin_api_token=settings.admin_api_token.get_secret_value() if settings.admin_api_token else None,
        shop_tokens={s.id: s.api_token.get_secret_value() for s in settings.shops if s.api_token},
        cookie_secure=settings.cookie_secure,
        login_policy=configured_policy(settings),
        session_policy=configured_session_policy(settings),
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Add the signed session cookie and the login routes to the app."""
    cfg = auth_config(settings)
    app.state.auth = cfg
    max_age = math.ceil(cfg.session_policy.max_age.total_seconds())
    app.add_middleware(
        SessionCookie, secret_key=cfg.session_secret, secure=cfg.cookie_secure, max_age=max_age
    )
    app.include_router(router)
    app.add_middleware(SecurityHeaders)


class SessionCookie:
    """The signed session cookie, marked `Secure` as the `cookie_secure` setting says.

    `true`: always; `false`: never; `auto`: when the request's scheme is https, which uvicorn sets for
    a TLS connection or from the `X-Forwarded-Proto` of a proxy it trusts (`FORWARDED_ALLOW_IPS`).
    """

    def __init__(self, app: ASGIApp, *, secret_key: str, secure: str, max_age: int) -> None:
        if secure not in ("auto", "true", "false"):
            raise ValueError(f"cookie_secure must be auto, true or false, not {secure!r}")

        def sessions(https_only: bool) -> SessionMiddleware:
            return SessionMiddleware(
                app,
                secret_key=secret_key,
                session_cookie=SESSION_COOKIE,
                max_age=max_age,
                same_site="lax",
                https_only=https_only,
            )

        self.over_https = sessions(https_only=secure != "false")
        self.over_http = sessions(https_only=secure == "true")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self.over_https if scope.get("scheme") in ("https", "wss") else self.over_http
        await chosen(scope, receive, send)


# Scripts and styles come from /static only (no inline script, style or event handler in the
# templates; htmx's own indicator style is switched off in base.html and lives in poas.css).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def csp_for_redoc(nonce: str) -> str:
    """The policy for /redoc: ReDoc makes `<style>` elements at run time (allowed by this page's nonce;
    the two it makes while its script loads, before it knows the nonce, by their hashes) and runs its
    search in a worker made from a blob: URL. Scripts still come from this site only."""
    loading_styles = (
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' "  # an empty <style>
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"  # redoc.standalone.js 2.5.4's first styles
    )
    return CONTENT_SECURITY_POLICY.replace(
        "style-src 'self'", f"style-src 'self' 'nonce-{nonce}' {loading_styles}; worker-src 'self' blob:", 1
    )


_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
)
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Adds the security headers a response does not set itself: the CSP on every response, and
    `Cache-Control: no-store` on everything but /static (pages and API answers may hold shop data).

    Plain ASGI rather than `BaseHTTPMiddleware`, which cost 8-18 % of a webhook's CPU."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        wanted = (
            _SECURITY_HEADERS if scope["path"].startswith("/static/") else (*_SECURITY_HEADERS, _NO_STORE)
        )

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in wanted if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _cfg(request: Request) -> AuthConfig:
    cfg: AuthConfig = request.app.state.auth
    return cfg


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """On unsafe methods, the form field or header must carry the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    want = request.session.get("csrf")
    if not sent or not isinstance(want, str) or not hmac.compare_digest(sent, want):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF token missing or wrong; reload the page")


def is_admin(request: Request) -> bool:
    """Whether the request's cookie names a live admin session in the store (checked once per request)."""
    known = getattr(request.state, "poas_admin", None)
    if isinstance(known, bool):
        return known
    cfg = _cfg(request)
    session_id = request.session.get("sid")
    good = isinstance(session_id, str) and check_session(
        request.app.state.engine,
        session_id,
        cfg.password_hash,
        now=cfg.clock(),
        policy=cfg.session_policy,
    )
    if not good and session_id is not None:
        request.session.pop("sid", None)  # ended elsewhere: the browser forgets it too
    request.state.poas_admin = good
    return good


def require_admin(request: Request) -> None:
    """Dashboard guard: redirect to the login page when there is no admin session."""
    if is_admin(request):
        return
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    headers = {"Location": location, "HX-Redirect": location}
    raise HTTPException(status.HTTP_303_SEE_OTHER, "login required", headers=headers)


@dataclass(frozen=True)
class Principal:
    """Who called the API: the admin (all shops) or one shop (its own data only)."""

    shop_id: str | None

    def can_see(self, shop_id: str) -> bool:
        return self.shop_id is None or self.shop_id == shop_id


def _session_call_allowed(request: Request) -> bool:
    """A browser session may read the API; changing anything also needs the CSRF header."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return True
    sent, want = request.headers.get(CSRF_HEADER), request.session.get("csrf")
    return bool(sent) and isinstance(want, str) and hmac.compare_digest(str(sent), want)


bearer = HTTPBearer(auto_error=False, description="an admin API token or a shop's api_token")


def api_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """API guard: a bearer token (admin token or a shop's api_token) or an admin session."""
    cfg = _cfg(request)
    token = credentials.credentials.strip() if credentials else ""
    if token:
        if cfg.admin_api_token and hmac.compare_digest(token.encode(), cfg.admin_api_token.encode()):
            return Principal(shop_id=None)
        for shop_id, shop_token in cfg.shop_tokens.items():
            if hmac.compare_digest(token.encode(), shop_token.encode()):
                return Principal(shop_id=shop_id)
    elif "authorization" not in request.headers and is_admin(request) and _session_call_allowed(request):
        return Principal(shop_id=None)
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )


ApiPrincipal = Annotated[Principal, Depends(api_principal)]


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login: no open redirect, no control characters."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and all(0x21 <= ord(c) < 0x7F and c != "\\" for c in target)
    ):
        return target
    return "/"


router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    from poas.web.dashboard import templates

    cfg = _cfg(request)
    return templates.TemplateResponse(
        request,
        "login.html",
        {"next": _safe_next(next), "error": None, "configured": cfg.password_hash is not None},
    )


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(
    request: Request,
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    from poas.web.dashboard import templates

    cfg = _cfg(request)
    engine: Engine = request.app.state.engine
    attempt = start_attempt(
        engine,
        request.client.host if request.client else None,
        now=cfg.clock(),
        policy=cfg.login_policy,
    )
    if not attempt.allowed:
        wait_s = max(1, math.ceil(attempt.retry_after.total_seconds()))
        return templates.TemplateResponse(
            request,
            "login.html",
            {
                "next": _safe_next(next),
                "error": _("Too many wrong passwords; try again in %(minutes)s min.")
                % {"minutes": math.ceil(wait_s / 60)},
                "configured": True,
            },
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(wait_s)},
        )
    if cfg.password_hash and verify_password(password, cfg.password_hash):
        login_succeeded(engine, attempt)
        old = request.session.get("sid")
        if isinstance(old, str):
            end_session(engine, old)
        request.session.clear()
        request.session["sid"] = start_session(
            engine, cfg.password_hash, now=cfg.clock(), policy=cfg.session_policy
        )
        csrf_token(request)  # a fresh token for the new session
        return RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "next": _safe_next(next),
            "error": _("Wrong password."),
            "configured": cfg.password_hash is not None,
        },
        status_code=status.HTTP_401_UNAUTHORIZED,
    )


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    """End the session in the store, so a copy of the cookie is refused too."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        end_session(request.app.state.engine, session_id)
    request.session.clear()
    return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
