"""Console users, argon2 password hashes, and sessions that expire.

A session token is 32 random bytes handed to the client once; the database keeps
only its SHA-256.  Browsers carry it in an HttpOnly, SameSite=Strict cookie; API
clients as ``Authorization: Bearer``.  Both kinds expire server-side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialer.store.models.console import AuditEntry, ConsoleSession, ConsoleUser
from duncall.console.roles import Role
from foundation.errors import AuthError, InputError

LOGIN_FAILED = "login_failed"  # audit action of a refused log-in; the throttle counts these
LOGIN_SUCCEEDED = ("login", "token_issued")
USER_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
MIN_PASSWORD_CHARS = 10
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the logged-in user."""

    user_id: int
    name: str
    role: Role


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything written here was UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InputError(
            f"unknown role {value!r}", f"use one of: {', '.join(r.value for r in Role)}"
        ) from None


def check_new_user(name: str, password: str) -> None:
    if not USER_NAME.match(name):
        raise InputError(
            f"user name {name!r} is not allowed",
            "use 2–64 characters: lowercase letters, digits, _ . -, starting with a letter",
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(
            f"the password has {len(password)} characters; at least {MIN_PASSWORD_CHARS} are required",
            "choose a longer password (a passphrase of a few words works well)",
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def add_user(db: Session, name: str, role: Role, password: str, now: dt.datetime) -> ConsoleUser:
    """Create a user in ``db``'s transaction; a taken name is an ``InputError``."""
    check_new_user(name, password)
    if db.scalar(select(ConsoleUser.id).where(ConsoleUser.name == name)) is not None:
        raise InputError(f"user {name!r} already exists", "choose another name")
    user = ConsoleUser(name=name, role=role.value, password_hash=_hasher.hash(password), created_at=now)
    db.add(user)
    try:
        db.flush()
    except IntegrityError:
        raise InputError(f"user {name!r} already exists", "choose another name") from None
    return user


def set_password(db: Session, user: ConsoleUser, password: str) -> None:
    check_new_user(user.name, password)
    user.password_hash = _hasher.hash(password)
    # A new password ends every session the old one opened.
    db.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))


def authenticate(db: Session, name: str, password: str) -> ConsoleUser:
    """The user whose password this is; the same ``AuthError`` for a wrong name or password."""
    user = db.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    refused = AuthError("wrong user name or password", "check both; an admin can reset a password")
    if user is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        raise refused
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise refused from None
    if user.disabled:
        raise AuthError(f"user {name!r} is disabled", "ask an admin to enable the account")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def login_wait_s(db: Session, name: str, now: dt.datetime, max_failures: int, window_s: int) -> int:
    """Seconds before ``name`` may try a password again; 0 when it may now.

    ``max_failures`` refused log-ins within ``window_s`` (and since the name's last good
    one) close the door until the oldest of them leaves the window. Counted from the
    audit log, so every console process sees the same count and a restart forgets nothing;
    unknown names are counted too, so a lock tells nobody whether a name exists.
    """
    since = now - dt.timedelta(seconds=window_s)
    last_good = db.scalar(
        select(func.max(AuditEntry.at)).where(
            AuditEntry.user_name == name, AuditEntry.action.in_(LOGIN_SUCCEEDED), AuditEntry.at > since
        )
    )
    if last_good is not None:
        since = max(since, _utc(last_good))
    failures = list(
        db.scalars(
            select(AuditEntry.at)
            .where(AuditEntry.user_name == name, AuditEntry.action == LOGIN_FAILED, AuditEntry.at > since)
            .order_by(AuditEntry.at.desc())
            .limit(max_failures)
        )
    )
    if len(failures) < max_failures:
        return 0
    reopens = _utc(failures[-1]) + dt.timedelta(seconds=window_s)
    return max(1, int((reopens - now).total_seconds() + 0.999))


def open_session(
    db: Session, user: ConsoleUser, kind: str, now: dt.datetime, ttl_s: int
) -> tuple[str, dt.datetime]:
    """A new session's token (shown once) and its expiry."""
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(seconds=ttl_s)
    db.add(
        ConsoleSession(
            token_sha256=token_digest(token), user_id=user.id, kind=kind, created_at=now, expires_at=expires
        )
    )
    # Expired rows are swept as new ones are made, so the table stays the size of the live sessions.
    db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    return token, expires


def close_session(db: Session, token: str) -> None:
    db.execute(delete(ConsoleSession).where(ConsoleSession.token_sha256 == token_digest(token)))


def principal_for(db: Session, token: str, now: dt.datetime) -> Principal | None:
    """The user a live token belongs to; None when unknown, expired or the user is disabled."""
    row = db.execute(
        select(
            ConsoleSession.expires_at,
            ConsoleUser.id,
            ConsoleUser.name,
            ConsoleUser.role,
            ConsoleUser.disabled,
        )
        .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_sha256 == token_digest(token))
    ).first()
    if row is None:
        return None
    expires_at, user_id, name, role, disabled = row
    if disabled or _utc(expires_at) <= now:
        return None
    return Principal(user_id, name, Role(role))
