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
import threading
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialer.store.models.console import ConsoleSession, ConsoleUser
from duncall.console.roles import Role
from duncall.passwords import check_password
from foundation.errors import AuthError, InputError, ServiceUnavailable

LOGIN_FAILED = "login_failed"  # audit action of a refused log-in (the throttle: duncall/console/throttle.py)
USER_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
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
    # The same rule as `duncall users add`: length, not only spaces, and not guessable (zxcvbn).
    check_password(password, [name, "duncall"])


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


HASH_WAIT_S = 20.0  # a log-in waits this long for an argon2 slot before it is told to retry


def stored_hash(db: Session, name: str) -> tuple[int | None, str, bool]:
    """``(user id, hash, disabled)`` of ``name``; an unknown name gets the dummy hash."""
    row = db.execute(
        select(ConsoleUser.id, ConsoleUser.password_hash, ConsoleUser.disabled).where(
            ConsoleUser.name == name
        )
    ).first()
    if row is None:
        return None, _DUMMY_HASH, False
    return row[0], row[1], bool(row[2])


def verify_password(password_hash: str, password: str, slots: threading.BoundedSemaphore) -> bool:
    """argon2 check of ``password``, at most ``slots`` at once across the console's threads."""
    if not slots.acquire(timeout=HASH_WAIT_S):
        raise ServiceUnavailable(
            "the console is busy checking other log-ins", "try again in a few seconds", retryable=True
        )
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    finally:
        slots.release()


def refused() -> AuthError:
    return AuthError("wrong user name or password", "check both; an admin can reset a password")


def authenticate(db: Session, name: str, password: str) -> ConsoleUser:
    """The user whose password this is; the same ``AuthError`` for a wrong name or password."""
    user = db.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    if user is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        raise refused()
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise refused() from None
    if user.disabled:
        raise AuthError(f"user {name!r} is disabled", "ask an admin to enable the account")
    return user


def rehash_if_needed(user: ConsoleUser, password: str) -> None:
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)


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
