"""Who may talk to the dashboard, checked on every request (the push channel included).

- Token: when one is set (always, for any address but 127.0.0.1), a request carries it in the
  `tradebot_token` cookie (set after a `?token=` login link), an `Authorization: Bearer` header or
  an `X-Tradebot-Token` header; anything else gets 401.
- Host: without a token, the Host header must name this server by a local name, so a web page
  whose DNS name was rebound to 127.0.0.1 cannot read it.
- Cross-site requests: every state-changing request is a POST carrying the CSRF token the pages
  embed (form field `csrf` or header `X-CSRF-Token`), and its Origin, when sent, must be this server.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from .settings import LOCAL_HOSTS

TOKEN_COOKIE = "tradebot_token"
CSRF_FIELD = "csrf"


class Guard:
    """The checks, with the secrets of one dashboard run."""

    def __init__(self, *, host: str, port: int, token: str | None) -> None:
        self.token, self.host = token, host
        self.listening(port)
        self.csrf = hmac.new(secrets.token_bytes(32), b"csrf", hashlib.sha256).hexdigest()

    def listening(self, port: int) -> None:
        """The port the server got (port 0 asks the system for a free one)."""
        self.port = port
        self.local_hosts = {f"{name}:{port}" for name in (*LOCAL_HOSTS - {"::1"}, "[::1]", self.host)}

    def token_ok(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        header = request.headers.get("Authorization", "")
        offered = [request.cookies.get(TOKEN_COOKIE, ""), request.headers.get("X-Tradebot-Token", ""),
                   header[7:] if header.startswith("Bearer ") else ""]
        return any(value and hmac.compare_digest(value, self.token) for value in offered)

    def host_ok(self, request: web.Request) -> bool:
        return self.token is not None or request.host in self.local_hosts

    def origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:  # same-origin form posts from older browsers, and scripts
            return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
        return urlsplit(origin).netloc == request.host

    async def csrf_ok(self, request: web.Request) -> bool:
        offered = request.headers.get("X-CSRF-Token", "")
        if not offered and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            offered = str((await request.post()).get(CSRF_FIELD, ""))
        return bool(offered) and hmac.compare_digest(offered, self.csrf)

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        if not self.host_ok(request):
            return _refuse(403, f"refused: unknown Host '{request.host}' (open the dashboard as "
                                f"http://127.0.0.1:{self.port}/)")
        login = request.query.get("token")
        if login is not None and request.method == "GET":
            return self._login(request, login)
        if not self.token_ok(request):
            return _refuse(401, "refused: this dashboard needs its token (open the link `tradebot ui` "
                                "printed, or send the X-Tradebot-Token header)")
        if request.method not in ("GET", "HEAD"):
            if request.method != "POST":
                return _refuse(405, "only GET and POST")
            if not self.origin_ok(request):
                return _refuse(403, "refused: a cross-site request")
            if not await self.csrf_ok(request):
                return _refuse(403, "refused: missing or wrong CSRF token (reload the page)")
        response = await handler(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")  # no-referrer would make Origin "null"
        return response

    def _login(self, request: web.Request, offered: str) -> web.StreamResponse:
        if self.token is None or not hmac.compare_digest(offered, self.token):
            return _refuse(401, "refused: wrong token")
        query = {k: v for k, v in request.rel_url.query.items() if k != "token"}
        target = request.rel_url.with_query(query) if query else request.rel_url.with_query(None)
        response = web.Response(status=303, headers={"Location": str(target)})
        response.set_cookie(TOKEN_COOKIE, offered, httponly=True, samesite="Strict", path="/")
        return response


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain")


def new_token() -> str:
    return secrets.token_urlsafe(24)
