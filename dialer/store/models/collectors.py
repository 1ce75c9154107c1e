"""Collectors (the people who work accounts), their teams, and which collector holds which account.

A collector's skills are lists where empty means "any": the languages they speak, the
DPD buckets (named in the assignment rules) and creditors they work, the balance band
they may hold, and the licences they carry (``US-NY``, ``US`` for every state, ``CN``).
``capacity`` is the most open cases they may hold; an absent collector (``absent_until``
in the future, or ``active`` false) receives nothing and their accounts are redistributed.

``case_assignments`` holds one row per assigned account with a snapshot of the facts it
was assigned on (its bucket, broken promises, flags): an escalation rule compares the
account's facts today with that snapshot, so an account stays with its collector until
something the rules name has changed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, Numeric, String, false, true
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base


class Team(Base):
    __tablename__ = "teams"

    team_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Collector(Base):
    __tablename__ = "collectors"

    collector_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.team_id"), index=True)
    console_user: Mapped[str | None] = mapped_column(String(64))  # the console log-in that works the desk
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    buckets: Mapped[list[str]] = mapped_column(JSON, default=list)
    creditors: Mapped[list[str]] = mapped_column(JSON, default=list)
    licences: Mapped[list[str]] = mapped_column(JSON, default=list)
    balance_min: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    balance_max: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    capacity: Mapped[int] = mapped_column(Integer)  # most open cases held at once
    hours_per_week: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    absent_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CaseAssignment(Base):
    __tablename__ = "case_assignments"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    collector_id: Mapped[str] = mapped_column(ForeignKey("collectors.collector_id"), index=True)
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(40))  # new, escalation's name, collector_absent, manual
    manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The facts the account was assigned on; escalation rules compare today's with these.
    bucket: Mapped[str | None] = mapped_column(String(40))
    broken_promises: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
