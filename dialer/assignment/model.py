"""The frozen rules and the facts the assignment policy reads, and the moves it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Method(StrEnum):
    ROUND_ROBIN = "round_robin"  # turns in this run: each eligible collector in order
    LEAST_LOADED = "least_loaded"  # fewest open cases first
    WEIGHTED = "weighted_capacity"  # open cases per unit of capacity, lowest first


class Trigger(StrEnum):
    BROKEN_PROMISE = "broken_promise"  # a promise broke since the account was assigned
    BUCKET_CHANGE = "bucket_change"  # the account crossed into another DPD bucket
    FLAG = "flag"  # a flag (dispute, …) was set since the account was assigned


class Reason(StrEnum):
    """Why an account moved, besides the name of an escalation rule."""

    NEW = "new"  # not assigned before
    ABSENT = "collector_absent"  # its collector is absent or no longer active
    REMOVED = "collector_removed"  # its collector no longer exists
    CLOSED = "not_assignable"  # released: paid, or excluded by the rules
    MANUAL = "manual"  # a supervisor moved it


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    dpd_min: int
    dpd_max: int | None  # None: open-ended

    def covers(self, dpd: int) -> bool:
        return self.dpd_min <= dpd and (self.dpd_max is None or dpd <= self.dpd_max)


@dataclass(frozen=True, slots=True)
class Escalation:
    name: str
    trigger: Trigger
    flag: str | None = None  # for Trigger.FLAG
    to_team: str | None = None  # None: any collector with the skills
    only_if_unskilled: bool = False  # move only when the current collector lacks the skills now


@dataclass(frozen=True, slots=True)
class Rules:
    method: Method
    tolerance: int  # how far apart (in cases) the run keeps a pool's loads when placing
    buckets: tuple[Bucket, ...]
    escalations: tuple[Escalation, ...] = ()
    exclude_flags: frozenset[str] = frozenset()  # accounts with these flags are not assigned
    require_licence: bool = False  # an account whose jurisdiction is unknown goes to nobody
    priority: tuple[str, ...] = ("callback_due", "broken_promise", "balance", "risk")
    risk_order: tuple[str, ...] = ("high", "medium", "low")
    source: str = ""

    def bucket_for(self, dpd: int | None) -> str | None:
        if dpd is None:
            return None
        return next((b.name for b in self.buckets if b.covers(dpd)), None)


@dataclass(frozen=True, slots=True)
class CollectorSpec:
    collector_id: str
    team: str | None
    capacity: int
    available: bool = True  # False: absent or inactive; holds nothing new and loses what it holds
    languages: frozenset[str] = frozenset()  # empty: any
    buckets: frozenset[str] = frozenset()
    creditors: frozenset[str] = frozenset()
    licences: frozenset[str] = frozenset()  # "US-NY", "US" (every state), "CN"
    balance_min: Decimal | None = None
    balance_max: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """One account as the policy sees it today."""

    account_id: str
    language: str
    bucket: str | None
    creditor: str | None
    balance: Decimal
    jurisdiction: str | None = None  # "US-NY", "CN"; None when unknown
    broken_promises: int = 0
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Holding:
    """An account's current assignment and the facts it was assigned on."""

    collector_id: str
    bucket: str | None
    broken_promises: int
    flags: frozenset[str] = frozenset()
    manual: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    account_id: str
    from_collector: str | None
    to_collector: str | None  # None: released
    reason: str  # a ``Reason`` or an escalation's name
    why: str  # one line for a person


@dataclass(frozen=True, slots=True)
class Unplaced:
    account_id: str
    holder: str | None  # who keeps it meanwhile (an escalation that found nobody)
    why: str


@dataclass(slots=True)
class Plan:
    moves: list[Move] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)
    loads: dict[str, int] = field(default_factory=dict)  # open cases per collector after the moves
    kept: int = 0  # accounts that stay where they are
