"""The console's FastAPI app: routers, uniform errors, a request size limit, the pages.

Every error body is ``{"error": what, "fix": how}`` (plus ``problems`` for a script
that fails its checks), never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duncall.console.auth import Principal
from duncall.console.deps import current_principal
from duncall.console.errors import ApiError
from duncall.console.graph import GRAPH_STYLE
from duncall.console.hardening import Hardening, page_csp
from duncall.console.metrics import router as metrics_router
from duncall.console.routers import (
    accounts,
    admin,
    auth,
    calls,
    desk,
    kpi,
    live,
    messages,
    paylinks,
    payments,
    portfolio,
    privacy,
    scripts,
    supervision,
)
from duncall.console.settings import ConsoleSettings
from duncall.console.state import Console
from foundation.errors import AuthError, ConfigError, DuncallError, InputError, ServiceUnavailable
from foundation.log import kv

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGES = ("login", "scripts", "editor", "calls", "call", "live", "admin", "dashboard", "desk")


def _status(exc: DuncallError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, ConfigError):
        return 422
    if isinstance(exc, ServiceUnavailable):
        return 503
    return 500


def _error(status: int, what: str, fix: str = "", **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(extra["retry_after_s"])} if "retry_after_s" in extra else None
    return JSONResponse({"error": what, "fix": fix, **extra}, status_code=status, headers=headers)


async def _duncall_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, DuncallError)
    extra = exc.extra if isinstance(exc, ApiError) else {}
    return _error(_status(exc), exc.what, exc.fix, **extra)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ())) or "request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return _error(422, f"{where}: {first.get('msg', 'invalid')}{more}", "see the OpenAPI document at /docs")


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    fix = "see the OpenAPI document at /docs" if exc.status_code in (404, 405) else ""
    return _error(exc.status_code, str(exc.detail), fix)


async def _unexpected(_: Request, exc: Exception) -> Response:
    log.exception("console request failed", extra=kv(error=type(exc).__name__))
    return _error(500, "the console hit an internal error", "see the server log; the request changed nothing")


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 before any endpoint reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        too_big = _error(
            413, f"the request body is over {self.max_bytes} bytes", "send less (a script is a few KiB)"
        )
        if declared is not None:
            try:
                if int(declared) > self.max_bytes:
                    await too_big(scope, receive, send)
                    return
            except ValueError:
                await _error(400, "Content-Length is not a number", "send a valid request")(
                    scope, receive, send
                )
                return
        received = 0

        async def limited() -> Message:
            # A chunked body declares no length: count it as it arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise ApiError(413, f"the request body is over {self.max_bytes} bytes", "send less")
            return message

        await self.app(scope, limited, send)


def create_app(settings: ConsoleSettings, engine: Engine | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # Supervision sessions end with the server (a taken-over call stays bridged in Asterisk).
        if app.state.supervision is not None:
            await app.state.supervision.close()
        if getattr(app.state, "desk_calls", None) is not None:
            await app.state.desk_calls.close()

    app = FastAPI(
        lifespan=lifespan,
        title="duncall console",
        version="0.1.0",
        description="Supervisors, script designers and QA reviewers. Log in with POST /api/auth/login "
        "(cookie) or POST /api/auth/token (bearer). A cookie session's POST, PUT and DELETE carry "
        "`X-Duncall-Request: 1`. This document and /docs need a log-in.",
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
    )
    app.state.console = Console(settings, engine)
    app.add_exception_handler(DuncallError, _duncall_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    for module in (
        auth,
        scripts,
        calls,
        admin,
        live,
        accounts,
        payments,
        kpi,
        messages,
        paylinks,
        privacy,
        portfolio,
        desk,
    ):
        app.include_router(module.router)
    app.include_router(supervision.router)
    app.include_router(metrics_router)  # GET /metrics: token or loopback only (its docstring)
    app.state.supervision = None  # made on first use (routers/supervision.py)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Outermost: a refused origin or plain HTTP in the open is answered before anything else runs.
    app.add_middleware(
        Hardening,
        settings=settings,
        csp=page_csp(sorted(STATIC_DIR.glob("*.html")), (GRAPH_STYLE,), connect=(settings.sip_ws_url,)),
    )

    # The API's map helps an attacker as much as a user: only for someone logged in.
    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(_: Annotated[Principal, Depends(current_principal)]) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        try:
            current_principal(request)
        except ApiError:
            return RedirectResponse("/login?next=/docs", status_code=303)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="duncall console API")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return RedirectResponse("/calls", status_code=303)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    def page(name: str) -> Any:
        def serve() -> Response:
            # Pages are static shells; every piece of data comes from the API, which checks the role.
            return FileResponse(STATIC_DIR / f"{name}.html", headers={"Cache-Control": "no-store"})

        return serve

    for name in PAGES:
        app.add_api_route(f"/{name}", page(name), methods=["GET"], include_in_schema=False)
    app.add_api_route("/scripts/{name}", page("editor"), methods=["GET"], include_in_schema=False)
    app.add_api_route("/calls/{attempt_id}", page("call"), methods=["GET"], include_in_schema=False)
    app.add_api_route("/accounts", page("account"), methods=["GET"], include_in_schema=False)
    app.add_api_route("/accounts/{account_id}", page("account"), methods=["GET"], include_in_schema=False)
    return app
