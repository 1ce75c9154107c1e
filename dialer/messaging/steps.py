"""Run the strategy's contact ladder for a day: for each account, the step due today.

The step is decided by the pure ladder (``dialer.strategy.ladder.step_due``) over what the
store says happened in this cycle (the account's due date): each step's earlier decisions
and messages, carried by their campaign id ``ladder:<step>:<due date>``, and the replies,
promises and payments since.  Then:

* an SMS or e-mail step goes through ``Messenger.send`` — the one path every message takes,
  so the message guard decides it exactly as any other message (window, opt-out, caps) and
  records the decision;
* a letter step writes the letter into the print vendor's folder (the US validation notice
  or the Chinese 催收函) and puts it on the account's timeline;
* a call step reports that the account is due for the dialer (calls are placed by the
  campaigns, through the call guard); it counts as done once a call was made on or after
  its day.

A dry run decides the same steps and asks the guard for a preview (nothing is written).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.messaging.guard import utc_now
from dialer.messaging.model import Channel
from dialer.messaging.send import Messenger, load_targets
from dialer.store.models import Account, AccountFlagRow, CallAttempt, PaymentRow, PromiseRow
from dialer.store.models.guards import GuardDecisionRow
from dialer.store.models.messages import MessageEventRow, MessageRow
from dialer.strategy.ladder import (
    Ladder,
    LadderAccount,
    LadderAction,
    LadderActionKind,
    LadderHistory,
    LetterKind,
    StepChannel,
    StepResult,
    StopKind,
    result_for_denial,
    step_day,
    step_due,
)
from dialer.strategy.promises import zone_named
from foundation.contract import AccountFlag
from foundation.errors import InputError
from foundation.log import kv

log = logging.getLogger(__name__)

CAMPAIGN_PREFIX = "ladder:"
HISTORY_DAYS = 400  # how far back replies, promises and payments are read (a ladder spans < a year)
CHUNK = 500


def campaign_id(step: str, due_date: dt.date) -> str:
    """The id a step's decisions and messages carry: which step, in which cycle (due date)."""
    return f"{CAMPAIGN_PREFIX}{step}:{due_date:%Y%m%d}"


def parse_campaign(value: str | None) -> tuple[str, dt.date] | None:
    if not value or not value.startswith(CAMPAIGN_PREFIX):
        return None
    try:
        step, day = value[len(CAMPAIGN_PREFIX) :].rsplit(":", 1)
        return step, dt.datetime.strptime(day, "%Y%m%d").date()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class LetterDesk:
    """Where letters go and who signs them (``duncall strategy ladder --letters-out …``)."""

    out: Path
    collector_name: str
    collector_address: str
    collector_phone: str = ""
    pay_within_days: int = 10  # 催收函: the deadline to pay, counted from the letter's date


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """One account's line of a run: what the ladder decided and what happened."""

    account_id: str
    action: LadderAction
    outcome: str  # sent | deferred | skipped | failed | queued | letter | due_for_dialer | wait | stop …
    reasons: tuple[str, ...] = ()

    @property
    def step(self) -> str:
        return self.action.step.name if self.action.step is not None else "-"

    def line(self) -> str:
        why = f" [{', '.join(self.reasons)}]" if self.reasons else ""
        return f"{self.account_id}  {self.step:<20} {self.outcome:<16} {self.action.reason}{why}"


@dataclass(frozen=True, slots=True)
class _Facts:
    account: LadderAccount
    zone: dt.tzinfo
    history: LadderHistory


class LadderRunner:
    def __init__(
        self,
        engine: Engine,
        ladder: Ladder,
        messenger: Messenger,
        *,
        letters: LetterDesk | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.ladder = ladder
        self.messenger = messenger
        self.letters = letters
        self.clock = clock

    def plan(self, account_ids: Sequence[str]) -> list[tuple[_Facts, LadderAction]]:
        now = self.clock()
        out = []
        for start in range(0, len(account_ids), CHUNK):
            for facts in self._facts(account_ids[start : start + CHUNK], now):
                today = now.astimezone(facts.zone).date()
                out.append((facts, step_due(self.ladder, facts.account, facts.history, today)))
        return out

    async def run(self, account_ids: Sequence[str], *, dry_run: bool = False) -> list[StepOutcome]:
        planned = self.plan(account_ids)
        outcomes: dict[str, StepOutcome] = {}
        sends: dict[tuple[StepChannel, str, str], list[tuple[_Facts, LadderAction]]] = defaultdict(list)
        for facts, action in planned:
            account_id = facts.account.account_id
            step = action.step
            if action.kind is LadderActionKind.SEND and step is not None:
                assert facts.account.due_date is not None
                sends[(step.channel, step.stage, campaign_id(step.name, facts.account.due_date))].append(
                    (facts, action)
                )
            elif action.kind is LadderActionKind.LETTER and step is not None:
                outcomes[account_id] = self._letter(facts, action, dry_run)
            elif action.kind is LadderActionKind.CALL:
                outcomes[account_id] = StepOutcome(account_id, action, "due_for_dialer")
            else:
                outcomes[account_id] = StepOutcome(account_id, action, action.kind.value)
        for (channel, stage, campaign), group in sends.items():
            for outcome in await self._send(Channel(channel.value), stage, campaign, group, dry_run):
                outcomes[outcome.account_id] = outcome
        return [outcomes[f.account.account_id] for f, _ in planned]

    async def _send(
        self,
        channel: Channel,
        stage: str,
        campaign: str,
        group: Sequence[tuple[_Facts, LadderAction]],
        dry_run: bool,
    ) -> list[StepOutcome]:
        ids = [f.account.account_id for f, _ in group]
        actions = {f.account.account_id: a for f, a in group}
        if dry_run:
            with Session(self.engine) as session:
                targets = load_targets(session, ids, channel)
            decisions = self.messenger.guard.preview([t.candidate for t in targets])
            templates = self.messenger.templates
            out = []
            for target, d in zip(targets, decisions, strict=True):
                account_id = target.candidate.account_id
                if templates.find(target.creditor_id, target.language, stage, channel) is None:
                    out.append(StepOutcome(account_id, actions[account_id], "no_template", (stage,)))
                elif d.allowed:
                    out.append(StepOutcome(account_id, actions[account_id], f"would_send_{channel.value}"))
                else:
                    verdict = result_for_denial(d.reasons)
                    word = "would_defer" if verdict is StepResult.DEFERRED else "would_skip"
                    out.append(StepOutcome(account_id, actions[account_id], word, d.reasons))
            return out
        if channel not in self.messenger.adapters:
            return [StepOutcome(i, actions[i], "no_channel", (f"no {channel.value} adapter",)) for i in ids]
        await self.messenger.send(ids, channel, stage, campaign_id=campaign)
        # What the guard and the adapter said, read back per account from what they recorded.
        with Session(self.engine) as session:
            denied = {
                account: tuple(r for r in reasons.split(",") if r)
                for account, reasons in session.execute(
                    select(GuardDecisionRow.account_id, GuardDecisionRow.reasons)
                    .where(
                        GuardDecisionRow.campaign_id == campaign,
                        GuardDecisionRow.account_id.in_(ids),
                        GuardDecisionRow.allowed.is_(False),
                    )
                    .order_by(GuardDecisionRow.at)  # the latest refusal wins: today's, not a deferral before
                )
            }
            status = dict(
                session.execute(
                    select(MessageRow.account_id, MessageRow.status).where(
                        MessageRow.campaign_id == campaign, MessageRow.account_id.in_(ids)
                    )
                ).all()
            )
        out = []
        for account_id in ids:
            if account_id in status:
                out.append(StepOutcome(account_id, actions[account_id], str(status[account_id])))
            elif account_id in denied:
                reasons = denied[account_id]
                word = "deferred" if result_for_denial(reasons) is StepResult.DEFERRED else "skipped"
                out.append(StepOutcome(account_id, actions[account_id], word, reasons))
            else:
                out.append(StepOutcome(account_id, actions[account_id], "not_sent", ("account not found",)))
        return out

    def _letter(self, facts: _Facts, action: LadderAction, dry_run: bool) -> StepOutcome:
        from dialer.messaging.letters import store_letter, validation_fields
        from dialer.messaging.letters_zh import collection_letter_fields, store_collection_letter

        account_id = facts.account.account_id
        step = action.step
        assert step is not None and facts.account.due_date is not None
        if self.letters is None:
            return StepOutcome(
                account_id, action, "no_letter_desk", ("give --letters-out and the collector",)
            )
        now = self.clock()
        sent_on = now.astimezone(facts.zone).date()
        campaign = campaign_id(step.name, facts.account.due_date)
        desk = self.letters
        try:
            with Session(self.engine) as session:
                path: Path | None = None
                if step.stage == LetterKind.VALIDATION_NOTICE:
                    notice = validation_fields(
                        session,
                        account_id,
                        collector_name=desk.collector_name,
                        collector_address=desk.collector_address,
                        sent_on=sent_on,
                    )
                    if not dry_run:
                        path = store_letter(session, notice, account_id, desk.out, now, campaign_id=campaign)
                else:
                    letter = collection_letter_fields(
                        session,
                        account_id,
                        collector_name=desk.collector_name,
                        collector_address=desk.collector_address,
                        collector_phone=desk.collector_phone,
                        sent_on=sent_on,
                        pay_within_days=desk.pay_within_days,
                    )
                    if not dry_run:
                        path = store_collection_letter(
                            session, letter, account_id, desk.out, now, campaign_id=campaign
                        )
                if path is not None:
                    session.commit()  # a dry run reads only: nothing to commit
        except InputError as exc:
            # One account's missing address must not stop the others; the step stays due.
            return StepOutcome(account_id, action, "not_written", (exc.what,))
        if path is None:
            return StepOutcome(account_id, action, "would_write_letter", (str(desk.out),))
        log.info("ladder letter written", extra=kv(step=step.name, kind=step.stage))
        return StepOutcome(account_id, action, "letter", (path.name,))

    def _facts(self, account_ids: Sequence[str], now: dt.datetime) -> list[_Facts]:
        since = now - dt.timedelta(days=HISTORY_DAYS)
        with Session(self.engine) as session:
            conn = session.connection()
            rows = conn.execute(
                select(
                    Account.account_id,
                    Account.due_date,
                    Account.balance,
                    Account.currency,
                    Account.language,
                    Account.timezone,
                ).where(Account.account_id.in_(account_ids))
            ).all()
            flags: dict[str, set[AccountFlag]] = defaultdict(set)
            known = set(AccountFlag.__members__.values())
            for account_id, flag in conn.execute(
                select(AccountFlagRow.account_id, AccountFlagRow.flag).where(
                    AccountFlagRow.account_id.in_(account_ids)
                )
            ):
                if flag in known:
                    flags[account_id].add(AccountFlag(flag))
            # Each step's decisions in any cycle: (account, step, cycle) → [(at, allowed, reasons)].
            decisions: dict[tuple[str, str, dt.date], list[tuple[dt.datetime, bool, str]]] = defaultdict(list)
            for account_id, campaign, at, allowed, reasons in conn.execute(
                select(
                    GuardDecisionRow.account_id,
                    GuardDecisionRow.campaign_id,
                    GuardDecisionRow.at,
                    GuardDecisionRow.allowed,
                    GuardDecisionRow.reasons,
                ).where(
                    GuardDecisionRow.account_id.in_(account_ids),
                    GuardDecisionRow.campaign_id.like(f"{CAMPAIGN_PREFIX}%"),
                )
            ):
                parsed = parse_campaign(campaign)
                if parsed is not None:
                    decisions[(account_id, *parsed)].append((_aware(at), bool(allowed), reasons or ""))
            # Letters (no guard decision) carry the campaign id on their message row.
            letters: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
            for account_id, stage, campaign in conn.execute(
                select(MessageRow.account_id, MessageRow.stage, MessageRow.campaign_id).where(
                    MessageRow.account_id.in_(account_ids), MessageRow.channel == "letter"
                )
            ):
                letters[account_id].append((stage, campaign))
            calls: dict[str, list[dt.datetime]] = defaultdict(list)
            for account_id, at in conn.execute(
                select(CallAttempt.account_id, CallAttempt.reserved_at).where(
                    CallAttempt.account_id.in_(account_ids), CallAttempt.reserved_at >= since
                )
            ):
                calls[account_id].append(_aware(at))
            stops: dict[str, list[tuple[StopKind, dt.datetime]]] = defaultdict(list)
            for account_id, at in conn.execute(
                select(MessageEventRow.account_id, MessageEventRow.at).where(
                    MessageEventRow.account_id.in_(account_ids),
                    MessageEventRow.kind == "reply",
                    MessageEventRow.at >= since,
                )
            ):
                stops[account_id].append((StopKind.REPLY, _aware(at)))
            for account_id, at in conn.execute(
                select(PromiseRow.account_id, PromiseRow.created_at).where(
                    PromiseRow.account_id.in_(account_ids), PromiseRow.created_at >= since
                )
            ):
                stops[account_id].append((StopKind.PROMISE, _aware(at)))
            for account_id, at in conn.execute(
                select(PaymentRow.account_id, PaymentRow.paid_at).where(
                    PaymentRow.account_id.in_(account_ids), PaymentRow.paid_at >= since
                )
            ):
                stops[account_id].append((StopKind.PAYMENT, _aware(at)))
        out = []
        for row in rows:
            zone, _ = zone_named(row.timezone)
            account = LadderAccount(
                account_id=row.account_id,
                due_date=row.due_date,
                balance=Decimal(row.balance),
                currency=row.currency,
                language=row.language,
                flags=frozenset(flags.get(row.account_id, ())),
            )
            results: dict[str, StepResult] = {}
            had_before: set[str] = set()
            for step in self.ladder.steps:
                if row.due_date is None:
                    break
                cycle = row.due_date
                made = sorted(decisions.get((row.account_id, step.name, cycle), []))
                if any(allowed for _, allowed, _ in made):
                    results[step.name] = StepResult.DONE
                elif made:
                    results[step.name] = result_for_denial(made[-1][2].split(","))
                if step.channel is StepChannel.LETTER:
                    mine = campaign_id(step.name, cycle)
                    for stage, campaign in letters.get(row.account_id, []):
                        if campaign == mine:
                            results[step.name] = StepResult.DONE
                        else:
                            had_before.add(stage)
                if step.channel.is_call:
                    day = step_day(cycle, step)
                    if any(at.astimezone(zone).date() >= day for at in calls.get(row.account_id, [])):
                        results[step.name] = StepResult.DONE
            history = LadderHistory(
                results=results,
                stops=tuple((kind, at.astimezone(zone).date()) for kind, at in stops.get(row.account_id, [])),
                had_before=frozenset(had_before),
            )
            out.append(_Facts(account, zone, history))
        return out


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything duncall writes is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


__all__ = ["LadderRunner", "LetterDesk", "StepOutcome", "campaign_id"]
