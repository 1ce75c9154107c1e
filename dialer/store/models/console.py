"""The web console's tables: its users, their sessions and the audit log.

They stay with the store's other tables (rather than in the application) so the
store's one migration chain creates and autogenerates them without importing the
console.  Passwords and session tokens are never stored as given: a password as an
argon2 hash, a session token as its SHA-256 (a leaked database must not log anyone
in).  Audit rows are only ever inserted, and each carries the hash of its content and
of the row before it (``dialer.store.audit_chain``), so an edit shows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from dialer.store.audit_hash import GENESIS, link_hash, normal_detail, utc
from dialer.store.base import Base

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


class ConsoleUser(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # duncall.console.roles.Role
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(default=False)


class ConsoleSession(Base):
    """A browser session (cookie) or an API token (bearer); both expire."""

    __tablename__ = "console_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # cookie | bearer
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who did what, when: supervisor actions, script changes, logins, exports, reads of personal data.

    ``seq``, ``prev_hash`` and ``row_hash`` are filled in on insert by
    ``dialer.store.audit_chain`` (a mapper event), whoever adds the row; triggers refuse
    UPDATE and DELETE of this table (migration 0114).
    """

    __tablename__ = "console_audit"
    __table_args__ = (
        Index("ix_console_audit_at", "at"),
        Index("ix_console_audit_seq", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    user_name: Mapped[str] = mapped_column(String(64))  # a name, not an id: survives the user's removal
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int | None] = mapped_column(BigInteger)  # 1, 2, 3 … with no gap
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last link (one row, id 1): locked by every audit insert, so the chain never forks."""

    __tablename__ = "console_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditPrune(Base):
    """A retention purge of the chain's oldest rows: the only deletion the triggers let through.

    Rows up to ``through_seq`` may be deleted; verification then starts at the next row and
    says that the rows before it were pruned, when and by whom.
    """

    __tablename__ = "console_audit_prune"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    through_seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(64))
    # The hash of the last row pruned: the checkpoint the next row must link to, so
    # verification after a purge still proves the first row kept (None: pruned before 0119).
    through_hash: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(Base):
    """Refused log-ins per key (``name:<user>`` or ``addr:<client address>``), for the log-in delay.

    One row per key, changed by one atomic UPDATE per refusal, so parallel guesses are
    all counted; ``next_try_at`` is when the key may try again.
    """

    __tablename__ = "console_login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_try_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


@event.listens_for(AuditEntry, "before_insert")
def _chain(_mapper: Mapper[Any], connection: Connection, row: AuditEntry) -> None:
    """Link ``row`` to the chain inside the inserting transaction, whoever adds it.

    The no-op UPDATE takes the head's write lock first (a row lock on PostgreSQL, the
    database's write lock on SQLite), so two transactions never link to the same row;
    the lock is held to commit, which serialises audit writes (a few per request).
    """
    head = AuditHead.__table__
    assert isinstance(head, Table)
    taken = connection.execute(update(head).where(head.c.id == 1).values(seq=head.c.seq))
    if taken.rowcount == 0:
        connection.execute(insert(head).values(id=1, seq=0, row_hash=GENESIS))
    seq, prev = connection.execute(select(head.c.seq, head.c.row_hash).where(head.c.id == 1)).one()
    row.at = utc(row.at)
    row.target = row.target or ""
    row.detail = normal_detail(row.detail)
    row.seq = seq + 1
    row.prev_hash = prev
    row.row_hash = link_hash(prev, row.seq, row.at, row.user_name, row.action, row.target, row.detail)
    connection.execute(update(head).where(head.c.id == 1).values(seq=row.seq, row_hash=row.row_hash))
