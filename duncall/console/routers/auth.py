"""Log in and out; who am I; API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dialer.store.models.console import ConsoleUser
from duncall.console import audit
from duncall.console.auth import (
    LOGIN_FAILED,
    Principal,
    authenticate,
    close_session,
    login_wait_s,
    open_session,
)
from duncall.console.deps import SESSION_COOKIE, current_principal, get_console, request_token
from duncall.console.errors import ApiError
from duncall.console.roles import ROLE_PERMISSIONS, Role
from duncall.console.state import Console
from foundation.errors import AuthError

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


_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "wrong name or password"},
    429: {"description": "too many refused passwords for this name; Retry-After says when to try again"},
}


def _verified_user_id(console: Console, body: Credentials, via: str) -> int:
    """The id of the user these credentials belong to; refusals are audited and throttled.

    The refusal is written in a transaction of its own, so it counts even though the
    request fails; a name under its pause is refused before its password is looked at.
    """
    settings = console.settings
    now = console.now()
    with console.transaction() as db:
        wait_s = login_wait_s(db, body.name, now, settings.login_max_failures, settings.login_window_s)
        if wait_s:
            raise ApiError(
                429,
                f"too many refused passwords for this user name; try again in {wait_s} s",
                "wait that long; refused attempts are in the audit log (login_failed) for an admin to see",
                retry_after_s=wait_s,
            )
        try:
            return authenticate(db, body.name, body.password).id
        except AuthError as exc:
            refused = exc
    with console.transaction() as db:
        audit.record(db, now, body.name, LOGIN_FAILED, via=via)
    raise refused


def _me(principal: Principal, expires_at: dt.datetime | None = None) -> Me:
    perms = sorted(p.value for p in ROLE_PERMISSIONS[principal.role])
    return Me(name=principal.name, role=principal.role.value, permissions=perms, expires_at=expires_at)


@router.post("/login", response_model=Me, responses=_REFUSED)
def login(body: Credentials, response: Response, console: Annotated[Console, Depends(get_console)]) -> Me:
    """Open a browser session: sets an HttpOnly, SameSite=Strict cookie.

    After `login_max_failures` refused passwords for a name within `login_window_s`, the
    name is refused with 429 and `Retry-After` until the oldest refusal leaves the window.
    """
    settings = console.settings
    user_id = _verified_user_id(console, body, "cookie")
    now = console.now()
    with console.transaction() as db:
        user = db.get_one(ConsoleUser, user_id)
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


@router.post("/token", response_model=Token, responses=_REFUSED)
def token(body: TokenRequest, console: Annotated[Console, Depends(get_console)]) -> Token:
    """An API bearer token for scripts and tools (`Authorization: Bearer …`); throttled like log-in."""
    user_id = _verified_user_id(console, body, "bearer")
    now = console.now()
    ttl = min(body.ttl_s or console.settings.token_ttl_s, console.settings.token_ttl_s)
    with console.transaction() as db:
        user = db.get_one(ConsoleUser, user_id)
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
