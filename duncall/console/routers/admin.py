"""Users and the audit log (admins; supervisors may read the log)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from dialer.store.models.console import ConsoleUser
from duncall.console import audit, throttle
from duncall.console.auth import Principal, add_user, parse_role, set_password
from duncall.console.deps import get_console, require
from duncall.console.errors import ApiError, not_found
from duncall.console.roles import Permission, Role
from duncall.console.state import Console

router = APIRouter(prefix="/api", tags=["admin"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Admin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]
AuditReader = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


class User(BaseModel):
    name: str
    role: str
    created_at: dt.datetime
    disabled: bool


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64)
    role: Role
    password: str = Field(max_length=1024)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, max_length=1024)


class AuditRow(BaseModel):
    at: dt.datetime
    user: str
    action: str
    target: str
    detail: dict[str, Any]


@router.get("/users", response_model=list[User])
def list_users(console: ConsoleDep, _: Admin) -> list[User]:
    with console.transaction() as db:
        users = db.scalars(select(ConsoleUser).order_by(ConsoleUser.name))
        return [User.model_validate(u, from_attributes=True) for u in users]


@router.post("/users", response_model=User, status_code=201)
def create_user(body: NewUser, console: ConsoleDep, admin: Admin) -> User:
    now = console.now()
    with console.transaction() as db:
        user = add_user(db, body.name, body.role, body.password, now)
        audit.record(db, now, admin.name, "user_add", body.name, role=body.role.value)
        return User.model_validate(user, from_attributes=True)


@router.patch("/users/{name}", response_model=User)
def change_user(
    name: Annotated[str, Path(max_length=64)], body: UserChange, console: ConsoleDep, admin: Admin
) -> User:
    now = console.now()
    with console.transaction() as db:
        user = db.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
        if user is None:
            raise not_found("user", name)
        if user.id == admin.user_id and (body.disabled or (body.role and body.role is not Role.ADMIN)):
            raise ApiError(400, "an admin cannot disable or demote themself", "ask another admin")
        changes: dict[str, Any] = {}
        if body.role is not None:
            user.role = parse_role(body.role.value).value
            changes["role"] = user.role
        if body.disabled is not None:
            user.disabled = body.disabled
            changes["disabled"] = body.disabled
        if body.password is not None:
            set_password(db, user, body.password)
            changes["password"] = "changed"
        audit.record(db, now, admin.name, "user_change", name, **changes)
        return User.model_validate(user, from_attributes=True)


@router.delete("/users/{name}/login-delay")
def clear_login_delay(
    name: Annotated[str, Path(max_length=64)], console: ConsoleDep, admin: Admin
) -> dict[str, int]:
    """Let a user name try its password again at once, from every address. Audited.

    Never for one's own name: an attacker who got an admin's session must not be able to
    lift the delay on the guesses at that admin's password."""
    if name == admin.name:
        raise ApiError(403, "an admin cannot lift the log-in delay on their own name", "ask another admin")
    with console.transaction() as db:
        cleared = throttle.clear_name(db, name)
        audit.record(db, console.now(), admin.name, "login_delay_clear", name, cleared=cleared)
    return {"cleared": cleared}


@router.get("/audit", response_model=list[AuditRow])
def audit_log(
    console: ConsoleDep,
    _: AuditReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    action: Annotated[str | None, Query(max_length=32)] = None,
    user: Annotated[str | None, Query(max_length=64)] = None,
) -> list[AuditRow]:
    """Newest first."""
    with console.transaction() as db:
        return [
            AuditRow(at=r.at, user=r.user_name, action=r.action, target=r.target, detail=r.detail)
            for r in audit.recent(db, limit, action, user)
        ]
