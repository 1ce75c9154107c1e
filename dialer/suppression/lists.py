"""Add, clear and look up suppressed numbers.  Every change is one transaction with its event row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from dialer.policy.suppression import SuppressionKind, report_applies
from dialer.store.models import Phone
from dialer.store.models.suppression import INTERNAL_LIST, Suppression, SuppressionEvent
from foundation.errors import InputError


@dataclass(frozen=True, slots=True)
class Entry:
    """One active suppression of a number."""

    list_name: str
    kind: str
    source: str
    reported_on: dt.date | None
    reason: str
    added_at: dt.datetime
    added_by: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "list": self.list_name,
            "kind": self.kind,
            "source": self.source,
            "reported_on": self.reported_on.isoformat() if self.reported_on else None,
            "reason": self.reason,
            "added_at": self.added_at.isoformat(),
            "added_by": self.added_by,
        }


@dataclass(frozen=True, slots=True)
class StoredPhone:
    """A stored account's use of the number, and whether the entries stop dials to it."""

    account_id: str
    consent_date: dt.date | None
    suppressed: bool


@dataclass(frozen=True, slots=True)
class Status:
    number: str
    entries: tuple[Entry, ...]
    phones: tuple[StoredPhone, ...]

    @property
    def suppressed(self) -> bool:
        """Suppressed for at least one dial: a do-not-call entry, or a report that voids some consent."""
        if self.phones:
            return any(p.suppressed for p in self.phones)
        return any(report_applies(e.kind, e.reported_on, None) for e in self.entries)


def _active(session: Session, number: str) -> list[Suppression]:
    return list(
        session.scalars(
            select(Suppression)
            .where(Suppression.number == number, Suppression.cleared_at.is_(None))
            .order_by(Suppression.list_name)
        )
    )


_ACTIVE_FOR_NUMBER = select(Suppression.kind, Suppression.reported_on).where(
    Suppression.number == bindparam("number"), Suppression.cleared_at.is_(None)
)


def suppressed_for(session: Session, number: str, consent_date: dt.date | None) -> bool:
    """Whether any active entry stops a dial to ``number`` (E.164) whose consent dates from ``consent_date``.

    What the guard's facts lookup asks before every dial.
    """
    # Core on the session's connection: the ORM's per-query work would be most of this lookup's cost.
    rows = session.connection().execute(_ACTIVE_FOR_NUMBER, {"number": number})
    return any(report_applies(kind, reported_on, consent_date) for kind, reported_on in rows)


def status(engine: Engine, number: str) -> Status:
    with Session(engine) as s:
        entries = tuple(
            Entry(r.list_name, r.kind, r.source, r.reported_on, r.reason, _utc(r.added_at), r.added_by)
            for r in _active(s, number)
        )
        phones = tuple(
            StoredPhone(
                p.account_id,
                p.consent_date,
                any(report_applies(e.kind, e.reported_on, p.consent_date) for e in entries),
            )
            for p in s.scalars(select(Phone).where(Phone.number == number).order_by(Phone.account_id))
        )
    return Status(number, entries, phones)


def _utc(at: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _reason(text: str, what: str) -> str:
    reason = text.strip()
    if not reason:
        raise InputError(f"{what} needs a reason", "pass --reason 'why' (it is kept for the audit)")
    return reason


def add(
    engine: Engine,
    number: str,
    *,
    reason: str,
    by: str,
    now: dt.datetime,
    list_name: str = INTERNAL_LIST,
    kind: SuppressionKind = SuppressionKind.DNC,
    reported_on: dt.date | None = None,
    source: str = "operator",
) -> str:
    """Suppress ``number`` on ``list_name``; returns ``added``, ``reactivated``, ``updated`` or ``unchanged``."""
    reason = _reason(reason, "adding a number")
    if kind is not SuppressionKind.DNC and reported_on is None:
        reported_on = now.date()
    with Session(engine) as s, s.begin():
        check_list_kind(s, list_name, kind)
        row = s.get(Suppression, (number, list_name))
        if row is None:
            s.add(
                Suppression(
                    number=number,
                    list_name=list_name,
                    kind=kind.value,
                    source=source,
                    reported_on=reported_on,
                    reason=reason,
                    added_at=now,
                    added_by=by,
                )
            )
            result = "added"
        elif row.cleared_at is not None:
            row.cleared_at = row.cleared_by = row.cleared_reason = None
            row.reason, row.added_at, row.added_by, row.source = reason, now, by, source
            row.reported_on = reported_on
            result = "reactivated"
        elif reported_on is not None and (row.reported_on is None or reported_on > row.reported_on):
            # A later report voids consent given in between: the stricter date wins.
            row.reported_on, row.reason = reported_on, reason
            result = "updated"
        else:
            return "unchanged"
        s.add(
            SuppressionEvent(number=number, list_name=list_name, action="add", at=now, by=by, reason=reason)
        )
    return result


def clear(
    engine: Engine, number: str, *, reason: str, by: str, now: dt.datetime, list_name: str | None = None
) -> list[str]:
    """Clear ``number``'s active entries (on ``list_name`` only, when given); returns the lists cleared."""
    reason = _reason(reason, "removing a number")
    with Session(engine) as s, s.begin():
        rows = [r for r in _active(s, number) if list_name is None or r.list_name == list_name]
        if not rows:
            where = f"on list {list_name!r}" if list_name else "on any list"
            raise InputError(f"{number} is not suppressed {where}", "see `duncall dnc check NUMBER`")
        names = [r.list_name for r in rows]
        for row in rows:
            row.cleared_at, row.cleared_by, row.cleared_reason = now, by, reason
            s.add(
                SuppressionEvent(
                    number=number, list_name=row.list_name, action="clear", at=now, by=by, reason=reason
                )
            )
    return names


def check_list_kind(session: Session, list_name: str, kind: SuppressionKind) -> None:
    """A list holds one kind of entry, so its name says what a match means."""
    found = session.scalars(
        select(Suppression.kind)
        .where(Suppression.list_name == list_name, Suppression.kind != kind.value)
        .limit(1)
    ).first()
    if found is not None:
        raise InputError(
            f"list {list_name!r} holds {found} entries, not {kind.value}",
            f"use --kind {found}, or another --list for {kind.value} entries",
        )


def events(engine: Engine, number: str) -> Iterable[SuppressionEvent]:
    with Session(engine) as s:
        return list(
            s.scalars(
                select(SuppressionEvent)
                .where(SuppressionEvent.number == number)
                .order_by(SuppressionEvent.id)
            )
        )
