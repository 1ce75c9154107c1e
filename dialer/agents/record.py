"""The abandon-rate windows an agent campaign reads back from the store.

Its attempts are written by the one dial pipeline (``dialer.dial.record``):
``answered`` with disposition ``transferred`` when an agent took the call,
``abandoned`` (outcome and disposition) when the debtor heard the message instead.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.pacing.stats import DEFAULT_RULES, AbandonLedger, AbandonRule
from dialer.store.models import CallAttempt
from foundation.contract import CallOutcome

LIVE_ANSWERED = (CallOutcome.ANSWERED.value, CallOutcome.ABANDONED.value)


def abandon_ledger(
    engine: Engine, campaign_id: str, now: dt.datetime, rules: tuple[AbandonRule, ...] = DEFAULT_RULES
) -> AbandonLedger:
    """The campaign's live-answered calls within the longest rule's span, oldest first, at epoch seconds.

    A restarted or next-day run starts from what the regulators' windows already hold,
    not from an empty 30 days.
    """
    ledger = AbandonLedger(rules)
    since = now - dt.timedelta(seconds=max(r.span_s for r in rules))
    with Session(engine) as s:
        rows = s.execute(
            select(CallAttempt.ended_at, CallAttempt.outcome)
            .where(
                CallAttempt.campaign_id == campaign_id,
                CallAttempt.ended_at.is_not(None),
                CallAttempt.ended_at > since,
                CallAttempt.outcome.in_(LIVE_ANSWERED),
            )
            .order_by(CallAttempt.ended_at)
        ).all()
    for ended_at, outcome in rows:
        assert ended_at is not None
        at = ended_at if ended_at.tzinfo else ended_at.replace(tzinfo=dt.UTC)
        ledger.record(at.timestamp(), abandoned=outcome == CallOutcome.ABANDONED.value)
    return ledger
