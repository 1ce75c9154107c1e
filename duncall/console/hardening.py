"""What keeps another web page, a plain-HTTP network or a stolen tab from using the console.

- **Origin**: a state-changing request (POST, PUT, PATCH, DELETE) or a WebSocket whose
  ``Origin`` (or, without one, ``Referer``) names another origin is refused. SameSite
  cookies do not separate ports on one host, so a page served from ``127.0.0.1:9000`` is
  "same site" to a console on ``127.0.0.1:8700``; the origin check is what stops it.
- **A header only the console's own pages send**: a cookie session changes state only when
  the request carries ``X-Duncall-Request: 1`` (a cross-origin page cannot add a custom header
  without a CORS pre-flight, which the console never grants). Bearer-token clients need no
  header: a browser never attaches a bearer token by itself.
- **Headers**: a strict Content-Security-Policy (the pages load nothing from elsewhere; their
  inline scripts are allowed by hash only), ``nosniff``, no framing, no referrer to elsewhere;
  HSTS whenever the request came over HTTPS or from beyond loopback.
- **Exposure**: listening beyond loopback over plain HTTP is refused on every request unless
  ``DUNCALL_CONSOLE_TLS_PROXY=1`` says a TLS proxy is in front.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duncall.console.settings import ConsoleSettings
from foundation.errors import ConfigError

REQUEST_HEADER = "x-duncall-request"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WS_FORBIDDEN = 4403
HSTS = "max-age=31536000; includeSubDomains"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")
# Swagger UI's page is FastAPI's: its script and styles come from jsDelivr and one inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page_csp(pages: Iterable[Path], extra_styles: Iterable[str] = (), connect: Iterable[str] = ()) -> str:
    """The policy of every console page: only our own files, plus the pages' inline blocks (and
    ``extra_styles``, style blocks a page inserts, such as the script graph's) by hash; ``connect``:
    other places a page may open a connection to (the desk softphone's SIP WebSocket)."""
    scripts: set[str] = set()
    styles: set[str] = {_sha256(style) for style in extra_styles}
    for page in pages:
        for kind, body in _INLINE.findall(page.read_text(encoding="utf-8")):
            (scripts if kind == "script" else styles).add(_sha256(body))
    connect_src = " ".join(["'self'", *connect])
    return (
        "default-src 'self'; "
        f"script-src 'self' {' '.join(sorted(scripts))}; "
        f"style-src 'self' {' '.join(sorted(styles))}; "
        f"img-src 'self' data:; media-src 'self'; connect-src {connect_src}; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


def is_loopback(host: str | None) -> bool:
    """True for a loopback address; names that are not addresses (a test client's) count as local."""
    if host is None:
        return True  # a Unix socket
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True


def check_listen(host: str, tls_proxy: bool) -> None:
    """Refuse, before the server starts, to listen beyond loopback over plain HTTP.

    For ``duncall serve``: without ``DUNCALL_CONSOLE_TLS_PROXY=1`` a public address would
    carry passwords and session cookies in clear text (the middleware refuses such requests
    too, so a server started another way is no weaker, only later to say so).
    """
    if tls_proxy or host == "localhost" or _is_loopback_address(host):
        return
    raise ConfigError(
        f"the console would listen on {host}, beyond this machine, over plain HTTP",
        "put it behind a TLS proxy and set DUNCALL_CONSOLE_TLS_PROXY=1, or listen on 127.0.0.1",
    )


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def exposed(scope: Scope) -> bool:
    """The console answered on an address beyond this machine."""
    server = scope.get("server")
    return not is_loopback(server[0] if server else None)


def over_tls(scope: Scope) -> bool:
    # uvicorn sets the scheme from X-Forwarded-Proto when the proxy is one it trusts.
    return scope.get("scheme") in ("https", "wss")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:
                return None
    return None


def foreign_origin(scope: Scope, extra_origins: tuple[str, ...]) -> str | None:
    """The other origin a browser says this request comes from; None when it is ours or not said."""
    claimed = _header(scope, b"origin")
    if claimed is None:
        referer = _header(scope, b"referer")
        if not referer:
            return None
        parts = urlsplit(referer)
        claimed = f"{parts.scheme}://{parts.netloc}"
    claimed = claimed.strip().rstrip("/")
    if claimed in extra_origins:
        return None
    host = (_header(scope, b"host") or "").lower()
    parts = urlsplit(claimed.lower())
    if claimed == "null" or not parts.netloc or parts.netloc != host:
        return claimed[:100] or "null"
    return None


def _cookie_session(scope: Scope) -> bool:
    cookie = _header(scope, b"cookie") or ""
    return "duncall_session=" in cookie and not _header(scope, b"authorization")


def _refusal(status: int, what: str, fix: str) -> tuple[Message, Message]:
    body = json.dumps({"error": what, "fix": fix}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class Hardening:
    """ASGI middleware: origin and header checks, security headers, refusing plain HTTP in the open."""

    def __init__(self, app: ASGIApp, settings: ConsoleSettings, csp: str) -> None:
        self.app = app
        self.settings = settings
        self.csp = csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if foreign_origin(scope, self.settings.extra_origins) or self._plain_in_the_open(scope):
                # Refused before the handshake completes: the page's socket closes with 403.
                await send({"type": "websocket.close", "code": WS_FORBIDDEN})
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            for message in refusal:
                await send(message)
            return
        secure_transport = over_tls(scope) or exposed(scope)
        csp = DOCS_CSP.encode() if scope.get("path") in DOCS_PATHS else self.csp

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", csp),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if secure_transport:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)

    def _plain_in_the_open(self, scope: Scope) -> bool:
        return exposed(scope) and not over_tls(scope) and not self.settings.tls_proxy

    def _refusal(self, scope: Scope) -> tuple[Message, Message] | None:
        if self._plain_in_the_open(scope):
            return _refusal(
                421,
                "the console refuses plain HTTP on an address beyond this machine",
                "serve it behind a TLS proxy and set DUNCALL_CONSOLE_TLS_PROXY=1, or listen on 127.0.0.1",
            )
        if scope.get("method") not in UNSAFE_METHODS:
            return None
        other = foreign_origin(scope, self.settings.extra_origins)
        if other is not None:
            return _refusal(
                403,
                f"a request from another origin ({other}) may not change anything here",
                "use the console's own pages, or an API token (Authorization: Bearer) from a script",
            )
        if _cookie_session(scope) and _header(scope, REQUEST_HEADER.encode()) != "1":
            return _refusal(
                403,
                f"a logged-in browser request that changes something must carry {REQUEST_HEADER}: 1",
                "the console's pages send it; a script should use an API token (Authorization: Bearer)",
            )
        return None
