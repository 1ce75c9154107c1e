"""Log in and out; who am I; API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from duncall.console import audit
from duncall.console.auth import Principal, authenticate, close_session, open_session
from duncall.console.deps import SESSION_COOKIE, current_principal, get_console, request_token
from duncall.console.errors import ApiError
from duncall.console.roles import ROLE_PERMISSIONS, Role
from duncall.console.state import Console

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenRequest(Credentials):
    ttl_s: int | None = Field(
        default=None, ge=60, le=10 * 365 * 86400, description="lifetime; capped at the server's token TTL"
    )


class Me(BaseModel):
    name: str
    role: str
    permissions: list[str]
    expires_at: dt.datetime | None = None


class Token(BaseModel):
    token: str
    expires_at: dt.datetime


def _me(principal: Principal, expires_at: dt.datetime | None = None) -> Me:
    perms = sorted(p.value for p in ROLE_PERMISSIONS[principal.role])
    return Me(name=principal.name, role=principal.role.value, permissions=perms, expires_at=expires_at)


@router.post("/login", response_model=Me, responses={401: {"description": "wrong name or password"}})
def login(body: Credentials, response: Response, console: Annotated[Console, Depends(get_console)]) -> Me:
    """Open a browser session: sets an HttpOnly, SameSite=Strict cookie."""
    settings = console.settings
    now = console.now()
    with console.transaction() as db:
        user = authenticate(db, body.name, body.password)
        token, expires = open_session(db, user, "cookie", now, settings.session_ttl_s)
        audit.record(db, now, user.name, "login")
        principal = Principal(user.id, user.name, Role(user.role))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return _me(principal, expires)


@router.post("/token", response_model=Token, responses={401: {"description": "wrong name or password"}})
def token(body: TokenRequest, console: Annotated[Console, Depends(get_console)]) -> Token:
    """An API bearer token for scripts and tools (`Authorization: Bearer …`)."""
    now = console.now()
    ttl = min(body.ttl_s or console.settings.token_ttl_s, console.settings.token_ttl_s)
    with console.transaction() as db:
        user = authenticate(db, body.name, body.password)
        value, expires = open_session(db, user, "bearer", now, ttl)
        audit.record(db, now, user.name, "token_issued", ttl_s=ttl)
    return Token(token=value, expires_at=expires)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, console: Annotated[Console, Depends(get_console)]) -> None:
    """End this session (cookie or bearer token)."""
    token = request_token(request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE))
    if token:
        principal: Principal | None = None
        try:
            principal = current_principal(request)
        except ApiError:
            pass  # an expired session logs out just the same
        with console.transaction() as db:
            close_session(db, token)
            if principal:
                audit.record(db, console.now(), principal.name, "logout")
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=Me, responses={401: {"description": "not logged in"}})
def me(principal: Annotated[Principal, Depends(current_principal)]) -> Me:
    return _me(principal)
