"""Reads and writes around the strategy policy and the dialogue: the I/O that wraps them.

``strategy_inputs`` turns stored rows into the policy's ``AccountState`` and
``History``; ``account_view`` turns a stored account into what a dialogue script
may read (``AccountView``, the one place that mapping is written).  What a
finished attempt writes back (flags, promises, plans) is ``dialer.accounts.state``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dialer.store.models import (
    Account,
    AttemptState,
    CallAttempt,
    InstallmentPlanRow,
    InstalmentRow,
    PlanStatus,
    PromiseRow,
)
from dialer.strategy.model import AccountState, AttemptRecord, History, PromiseRecord, PromiseState, StageName
from foundation.contract import AccountFlag, AccountView, CallOutcome, Disposition
from foundation.errors import InputError

HISTORY_DAYS = 180  # older attempts no longer change what the strategy decides


def get_account(session: Session, account_id: str) -> Account:
    account = session.scalar(
        select(Account)
        .where(Account.account_id == account_id)
        .options(selectinload(Account.phones), selectinload(Account.flags))
    )
    if account is None:
        raise InputError(
            f"no account {account_id!r} in the database", "check the id or import the account first"
        )
    return account


def creditor_problem(account: Account) -> str | None:
    """Why ``account`` cannot be called about (None: it can): the one-line reason a plan counts.

    Every call names the creditor, and a voicemail must leave the creditor's number: an
    account whose creditor has none is not dialled at all, since whether a machine answers
    is known only once the call is up.
    """
    if account.creditor is None:
        return "no creditor (re-import the account with its creditor column)"
    if not account.creditor.callback_number:
        return (
            f"creditor {account.creditor.creditor_id} has no callback number, so no voicemail "
            f"(add one: duncall creditors add {account.creditor.creditor_id} --replace …)"
        )
    return None


def account_view(account: Account, today: dt.date) -> AccountView:
    """What a dialogue script may read about ``account``, its days past due as of ``today``.

    A due date wins over a stored days-past-due count: the count is only as fresh as the
    import that wrote it, the date is true on any day.  The creditor's name (in the
    account's language) and callback number come from the account's creditor.
    """
    problem = creditor_problem(account)
    if problem is not None:
        raise InputError(
            f"account {account.account_id}: {problem}", "the account cannot be called until then"
        )
    creditor = account.creditor
    assert creditor is not None and creditor.callback_number is not None
    days = (today - account.due_date).days if account.due_date else (account.days_past_due or 0)
    return AccountView(
        account_id=account.account_id,
        first_name=account.first_name,
        last_name=account.last_name,
        language=account.language,
        balance=Decimal(account.balance),
        currency=account.currency,
        due_date=account.due_date,
        days_past_due=days,
        timezone=account.timezone,
        creditor=creditor.name_in(account.language),
        callback_number=creditor.callback_number,
    )


def read_account_view(session: Session, account_id: str, today: dt.date) -> AccountView:
    return account_view(get_account(session, account_id), today)


def strategy_inputs(session: Session, account_id: str, now: dt.datetime) -> tuple[AccountState, History]:
    account = get_account(session, account_id)
    flags = frozenset(
        AccountFlag(row.flag) for row in account.flags if row.flag in AccountFlag.__members__.values()
    )
    state = AccountState(
        account_id=account.account_id,
        language=account.language,
        balance=Decimal(account.balance),
        due_date=account.due_date,
        days_past_due=account.days_past_due,
        risk_segment=account.risk_segment,
        timezone=account.timezone,
        flags=flags,
        currency=account.currency,
    )
    since = now - dt.timedelta(days=HISTORY_DAYS)
    attempts = session.scalars(
        select(CallAttempt).where(
            CallAttempt.account_id == account_id,
            CallAttempt.state == AttemptState.ENDED.value,
            CallAttempt.reserved_at >= since,
        )
    ).all()
    promises = session.scalars(select(PromiseRow).where(PromiseRow.account_id == account_id)).all()
    # An accepted plan's instalments are promises too: a pending one holds calls until its
    # due date and grace, a broken one escalates.  A completed plan's instalments are kept.
    instalments = session.execute(
        select(InstalmentRow, InstallmentPlanRow.created_at, InstallmentPlanRow.stage)
        .join(InstallmentPlanRow, InstallmentPlanRow.plan_id == InstalmentRow.plan_id)
        .where(
            InstallmentPlanRow.account_id == account_id,
            InstallmentPlanRow.status != PlanStatus.COMPLETED.value,
        )
    ).all()
    history = History(
        attempts=tuple(
            AttemptRecord(
                at=_aware(a.ended_at or a.reserved_at),
                outcome=CallOutcome(a.outcome or CallOutcome.FAILED.value),
                stage=_stage(a.stage),
                disposition=Disposition(a.disposition) if a.disposition else None,
                hardship=a.hardship,
                callback_at=_aware(a.callback_at) if a.callback_at else None,
                inbound=a.direction == "inbound",
            )
            for a in attempts
        ),
        promises=tuple(
            PromiseRecord(
                made_at=_aware(p.created_at),
                promised_date=p.promised_date,
                amount=Decimal(p.amount),
                status=PromiseState(p.status),
                stage=_stage(p.stage),
            )
            for p in promises
        )
        + tuple(
            PromiseRecord(
                made_at=_aware(created_at),
                promised_date=i.due_date,
                amount=Decimal(i.amount),
                status=PromiseState(i.status),
                stage=_stage(stage),
            )
            for i, created_at, stage in instalments
        ),
    )
    return state, history


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything duncall writes is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _stage(value: str | None) -> StageName | None:
    try:
        return StageName(value) if value is not None else None
    except ValueError:
        return None  # a stage a later strategy dropped; the attempt still counts toward daily caps
