"""What the KPI queries read: one narrow row per ended attempt, with the debtor's local time.

Local day, hour and weekday cost a time-zone conversion per row; done once when the attempt is
counted (``dialer.analytics.facts.refresh``), not in every query over a year of calls.  A row
is derived from ``call_attempts``, ``accounts`` and ``call_records`` and can be rebuilt from them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Float, ForeignKey, Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base


class AttemptFact(Base):
    __tablename__ = "attempt_facts"
    __table_args__ = (
        Index("ix_attempt_facts_local_day", "local_day"),
        Index("ix_attempt_facts_dialed_at", "dialed_at"),
        Index("ix_attempt_facts_ended_at", "ended_at"),
        Index("ix_attempt_facts_account_id", "account_id"),
        # The facts not yet added to ``attempt_rollup``: few, found without a scan.
        Index(
            "ix_attempt_facts_unrolled",
            "rolled",
            postgresql_where=text("rolled = 0"),
            sqlite_where=text("rolled = 0"),
        ),
    )

    attempt_id: Mapped[str] = mapped_column(
        ForeignKey("call_attempts.attempt_id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(64))
    creditor_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(16))
    script: Mapped[str | None] = mapped_column(String(100))
    script_version: Mapped[int | None] = mapped_column(Integer)
    dialed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    local_day: Mapped[dt.date] = mapped_column(Date)  # in the debtor's zone (accounts.timezone, else UTC)
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    local_weekday: Mapped[int] = mapped_column(SmallInteger)  # ISO: 1 Monday … 7 Sunday
    answered: Mapped[int] = mapped_column(SmallInteger)  # 0/1: a person picked up (abandoned included)
    right_party: Mapped[int] = mapped_column(SmallInteger)
    abandoned: Mapped[int] = mapped_column(SmallInteger)
    handled: Mapped[int] = mapped_column(SmallInteger)  # answered, not abandoned, with an end time
    handle_s: Mapped[float] = mapped_column(Float)  # dial to end, for handled calls; else 0
    line_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # dial to end, every call
    rolled: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # 1: in attempt_rollup


class AttemptRollup(Base):
    """The attempt facts summed per local day, UTC day and cut (creditor, campaign, stage, script, version).

    A year of calls in a few thousand rows: the dashboard's cuts that need neither the hour nor
    the account read this instead of a million facts.  Kept up by ``refresh_facts`` (facts with
    ``rolled = 0`` are added, then marked); ``duncall kpi --recount`` rebuilds it.  Missing
    values are stored as '' (and version -1) so the key is unique on every database.
    """

    __tablename__ = "attempt_rollup"

    local_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    utc_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # of dialed_at: the rolling windows
    creditor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    script: Mapped[str] = mapped_column(String(100), primary_key=True)
    script_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    local_weekday: Mapped[int] = mapped_column(SmallInteger)
    dialled: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    right_party: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    handled: Mapped[int] = mapped_column(Integer)
    handle_s: Mapped[float] = mapped_column(Float)
    line_s: Mapped[float] = mapped_column(Float)


class PromiseFact(Base):
    """A promise's place in the cuts (its call's local time, campaign, script …), copied once.

    The promise's status is read live from ``promises``; only what never changes is here, so
    counting promises per cut joins two small tables instead of a year of attempts.
    """

    __tablename__ = "promise_facts"
    __table_args__ = (Index("ix_promise_facts_local_day", "local_day"),)

    promise_id: Mapped[int] = mapped_column(
        ForeignKey("promises.promise_id", ondelete="CASCADE"), primary_key=True
    )
    creditor_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(16))
    script: Mapped[str | None] = mapped_column(String(100))
    script_version: Mapped[int | None] = mapped_column(Integer)
    local_day: Mapped[dt.date] = mapped_column(Date)
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    local_weekday: Mapped[int] = mapped_column(SmallInteger)


class ExperimentRow(Base):
    """A champion/challenger test: the challenger strategy or script for a seeded share of accounts."""

    __tablename__ = "experiments"

    experiment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # strategy | script
    champion: Mapped[str] = mapped_column(String(200))
    challenger: Mapped[str] = mapped_column(String(200))
    share: Mapped[float] = mapped_column(Float)  # of each stratum's accounts given the challenger
    seed: Mapped[int] = mapped_column(Integer)
    creditor_id: Mapped[str | None] = mapped_column(String(64))  # None: every creditor's accounts
    status: Mapped[str] = mapped_column(String(16))  # running | promoted | stopped
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(String(64))


class ExperimentAssignmentRow(Base):
    __tablename__ = "experiment_assignments"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    arm: Mapped[str] = mapped_column(String(16))  # champion | challenger
    stratum: Mapped[str | None] = mapped_column(String(40))  # the account's DPD bucket when assigned
