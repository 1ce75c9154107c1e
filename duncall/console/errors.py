"""Errors the console answers with a status code; the body is always ``{"error", "fix"}``."""

from __future__ import annotations

from typing import Any

from foundation.errors import DuncallError


class ApiError(DuncallError):
    """An expected failure of a request, with the HTTP status it maps to."""

    def __init__(self, status: int, what: str, fix: str = "", **extra: Any) -> None:
        super().__init__(what, fix)
        self.status = status
        self.extra = extra


def not_found(kind: str, key: str, fix: str = "") -> ApiError:
    return ApiError(404, f"no {kind} {key!r}", fix or f"list the {kind}s to find its name")


def unauthenticated(what: str = "not logged in") -> ApiError:
    return ApiError(401, what, "log in at /login or send `Authorization: Bearer <token>`")
