"""Log in and out; who am I; API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dialer.store.models.console import ConsoleUser
from duncall.console import audit, throttle
from duncall.console.auth import (
    LOGIN_FAILED,
    Principal,
    close_session,
    open_session,
    refused,
    rehash_if_needed,
    stored_hash,
    verify_password,
)
from duncall.console.deps import SESSION_COOKIE, current_principal, get_console, request_token
from duncall.console.errors import ApiError
from duncall.console.hardening import exposed, over_tls
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
    429: {"description": "too many refused passwords; Retry-After says when to try again"},
    503: {"description": "too many log-ins at once; try again in a few seconds"},
}


def client_address(request: Request) -> str:
    # uvicorn puts the proxy's X-Forwarded-For here when the proxy is one it trusts.
    return request.client.host if request.client else "unknown"


def _verified_user_id(console: Console, body: Credentials, via: str, address: str) -> int:
    """The id of the user these credentials belong to; attempts are throttled, refusals audited.

    The attempt is charged to its name, address and pair before the password is looked at,
    in a transaction of its own (throttle.py), so parallel guesses cannot all pass a check
    made before any of them failed. argon2 runs outside any transaction, a few at a time.
    """
    settings = console.settings
    limits = throttle.Limits(settings.login_max_failures, settings.login_window_s)
    now = console.now()
    with console.transaction() as db:
        wait_s = throttle.admit(db, body.name, address, now, limits)
    if wait_s:
        raise ApiError(
            429,
            f"too many refused passwords for this user name or address; try again in {wait_s} s",
            "wait that long (each further refusal doubles it); an admin can let a name try again at once",
            retry_after_s=wait_s,
        )
    with console.transaction() as db:
        user_id, password_hash, disabled = stored_hash(db, body.name)
    good = verify_password(password_hash, body.password, console.hash_slots)
    if good and user_id is not None and not disabled:
        with console.transaction() as db:
            throttle.succeeded(db, body.name, address, console.now(), limits)
        return user_id
    with console.transaction() as db:
        audit.record(db, now, body.name, LOGIN_FAILED, via=via, addr=address[:64])
    if good and disabled:
        raise AuthError(f"user {body.name!r} is disabled", "ask an admin to enable the account")
    raise refused()


def _me(principal: Principal, expires_at: dt.datetime | None = None) -> Me:
    perms = sorted(p.value for p in ROLE_PERMISSIONS[principal.role])
    return Me(name=principal.name, role=principal.role.value, permissions=perms, expires_at=expires_at)


@router.post("/login", response_model=Me, responses=_REFUSED)
def login(
    body: Credentials, request: Request, response: Response, console: Annotated[Console, Depends(get_console)]
) -> Me:
    """Open a browser session: sets an HttpOnly, SameSite=Strict cookie.

    Attempts are counted per name, per client address and per pair; past the free ones a
    key is refused with 429 and `Retry-After` for a delay that doubles with each attempt
    (never a hard lock; a name's count from elsewhere never holds back an address it has
    logged in from before).
    """
    settings = console.settings
    address = client_address(request)
    user_id = _verified_user_id(console, body, "cookie", address)
    now = console.now()
    with console.transaction() as db:
        user = db.get_one(ConsoleUser, user_id)
        rehash_if_needed(user, body.password)
        token, expires = open_session(db, user, "cookie", now, settings.session_ttl_s)
        audit.record(db, now, user.name, "login", addr=address[:64])
        principal = Principal(user.id, user.name, Role(user.role))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_s,
        httponly=True,
        samesite="strict",
        # Beyond loopback or over HTTPS the cookie never travels in clear text.
        secure=settings.cookie_secure or over_tls(request.scope) or exposed(request.scope),
        path="/",
    )
    return _me(principal, expires)


@router.post("/token", response_model=Token, responses=_REFUSED)
def token(body: TokenRequest, request: Request, console: Annotated[Console, Depends(get_console)]) -> Token:
    """An API bearer token for scripts and tools (`Authorization: Bearer …`); throttled like log-in."""
    user_id = _verified_user_id(console, body, "bearer", client_address(request))
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
