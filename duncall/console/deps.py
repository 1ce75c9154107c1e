"""FastAPI dependencies: the shared console state and the caller's identity and rights."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from duncall.console.auth import Principal, principal_for
from duncall.console.errors import ApiError, unauthenticated
from duncall.console.roles import Permission, can
from duncall.console.state import Console

SESSION_COOKIE = "duncall_session"


def get_console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def request_token(authorization: str | None, cookie: str | None) -> str | None:
    """The bearer token if one is sent, else the session cookie."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "the Authorization header is not `Bearer <token>`",
                "send `Authorization: Bearer <token>`",
            )
        return token.strip()
    return cookie or None


def identify(console: Console, token: str | None) -> Principal:
    if token is None:
        raise unauthenticated()
    with console.transaction() as db:
        principal = principal_for(db, token, console.now())
    if principal is None:
        raise unauthenticated("the session has expired or was closed")
    return principal


def current_principal(request: Request) -> Principal:
    token = request_token(request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE))
    return identify(get_console(request), token)


def require(permission: Permission) -> Callable[[Request], Principal]:
    """A dependency that lets the request through only for roles holding ``permission``."""

    def check(request: Request) -> Principal:
        principal = current_principal(request)
        if not can(principal.role, permission):
            raise ApiError(
                403,
                f"role {principal.role.value!r} may not do this (needs {permission.value})",
                "ask an admin for a role that may",
            )
        return principal

    return check
