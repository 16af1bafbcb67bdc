"""A dashboard request's language and time zone, and the gettext that templates and flashes use.

The language is the `poas_lang` cookie (set by the header's switch, `GET /language?lang=nb&next=/`), else the
browser's Accept-Language, else English. The time zone and currency are the shop's: the one named by
`?shop=` or an order's path, else the first configured shop. `LocaleMiddleware` puts them in a context
variable for the request, so filters and `_()` need no arguments and a page cannot mix languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, FastAPI, status
from fastapi.responses import RedirectResponse
from jinja2 import Environment
from starlette.types import ASGIApp, Receive, Scope, Send

from poas.web.catalogs import translations

COOKIE = "poas_lang"
COOKIE_MAX_AGE = 365 * 86400
DEFAULT_LANGUAGE = "en"
# code → (Babel locale, BCP 47 tag for <html lang> and Intl.NumberFormat, name in its own language)
LANGUAGES: dict[str, tuple[str, str, str]] = {
    "nb": ("nb_NO", "nb-NO", "Norsk"),
    "en": ("en", "en", "English"),
}
# Accept-Language primary tags that mean a language we have: Norwegian (no) and Nynorsk readers get Bokmål.
_ALIASES = {"nb": "nb", "no": "nb", "nn": "nb", "en": "en"}
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class Local:
    """How this request shows things: language, the shop's time zone and currency."""

    lang: str = DEFAULT_LANGUAGE
    tz: ZoneInfo = UTC_ZONE
    currency: str = "NOK"

    @property
    def babel_locale(self) -> str:
        return LANGUAGES[self.lang][0]

    @property
    def tag(self) -> str:
        return LANGUAGES[self.lang][1]

    @property
    def zone(self) -> str:
        return self.tz.key


_current: ContextVar[Local | None] = ContextVar("poas_local", default=None)
_OUTSIDE = Local()  # outside a request (CLI, unit tests): English, UTC


def current() -> Local:
    return _current.get() or _OUTSIDE


@contextmanager
def using(local: Local) -> Iterator[Local]:
    """Show things as `local` inside the block (the middleware does this per request; tests too)."""
    token = _current.set(local)
    try:
        yield local
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    """`message` in the request's language; an empty one stays empty (gettext would give the header)."""
    return translations(current().lang).gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current().lang).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Marks a string for the catalogs where it is defined (import time); `_()` translates it when shown."""
    return message


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language when it is one we have, else the best of Accept-Language, else English."""
    if cookie in LANGUAGES:
        return cookie
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        lang = _ALIASES.get(tag.strip().lower().split("-")[0])
        if lang is None:
            continue
        q = 1.0
        for p in params.split(";"):
            k, _eq, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, lang)
    return best[2] if best else DEFAULT_LANGUAGE


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def local_for(settings: Any, lang: str, shop_id: str | None) -> Local:
    shops = list(getattr(settings, "shops", None) or [])
    shop = next((s for s in shops if s.id == shop_id), shops[0] if shops else None)
    if shop is None:
        return Local(lang=lang)
    return Local(lang=lang, tz=_zone(shop.timezone), currency=shop.currency)


def _shop_of(scope: Scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("shop"):
        return str(query["shop"][0])
    parts = str(scope.get("path", "")).split("/")
    if len(parts) >= 4 and parts[1] == "orders":  # /orders/{shop_id}/{order_id}
        return parts[2]
    return None


class LocaleMiddleware:
    """Sets `current()` for each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header: no language cookie
            cookies = SimpleCookie()
        chosen = cookies.get(COOKIE)
        lang = choose_language(chosen.value if chosen else None, headers.get("accept-language"))
        app = scope.get("app")
        settings = getattr(getattr(app, "state", None), "settings", None)
        with using(local_for(settings, lang, _shop_of(scope))):
            await self.app(scope, receive, send)


def _same_site(target: str) -> str:
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok and all(0x20 < ord(c) < 0x7F for c in target) else "/"


router = APIRouter(include_in_schema=False)


@router.get("/language")
def switch_language(lang: str = DEFAULT_LANGUAGE, next: str = "/") -> RedirectResponse:
    """The header's language switch: a year-long cookie, then back to the page it was on.

    A plain link (no form, no CSRF token): the worst a forged one can do is change the language.
    """
    response = RedirectResponse(_same_site(next), status.HTTP_303_SEE_OTHER)
    if lang in LANGUAGES:
        response.set_cookie(COOKIE, lang, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax")
    return response


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_middleware(LocaleMiddleware)


def install_jinja(env: Environment) -> None:
    """`_()`, `ngettext` and `{% trans %}` in the request's language; `here()` is the request's Local."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["here"] = current
    env.globals["languages"] = {code: name for code, (_b, _t, name) in LANGUAGES.items()}
