"""What an agent campaign writes to the store, and the abandon-rate windows it reads back.

The attempt row is written ``dialing`` before the originate (crash safety, as in
``dialer.campaign.runner``) and ended with its outcome: ``answered`` with
disposition ``transferred`` when an agent took the call, ``abandoned`` (outcome
and disposition) when the debtor heard the message instead.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.pacing.stats import DEFAULT_RULES, AbandonLedger, AbandonRule
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.models.transcripts import CallRecording
from foundation.contract import CallOutcome

ABANDONED = "abandoned"  # disposition of an answered call no agent took in time
LIVE_ANSWERED = (CallOutcome.ANSWERED.value, CallOutcome.ABANDONED.value)


def record_reserved(
    engine: Engine,
    *,
    attempt_id: str,
    account_id: str,
    number: str,
    campaign_id: str | None,
    script: str | None,
    stage: str | None,
    now: dt.datetime,
) -> None:
    with Session(engine) as s, s.begin():
        s.add(
            CallAttempt(
                attempt_id=attempt_id,
                account_id=account_id,
                campaign_id=campaign_id,
                number=number,
                state=AttemptState.DIALING.value,
                script=script,
                stage=stage,
                reserved_at=now,
                dialed_at=now,
            )
        )


def record_ended(
    engine: Engine,
    *,
    attempt_id: str,
    outcome: CallOutcome,
    disposition: str,
    language: str,
    script: str | None,
    amd_status: str | None,
    hangup_by: str,
    answered: bool,
    now: dt.datetime,
) -> None:
    with Session(engine) as s, s.begin():
        row = s.get(CallAttempt, attempt_id)
        assert row is not None, "an attempt is recorded before it is dialled"
        row.state = AttemptState.ENDED.value
        row.ended_at = now
        row.outcome = outcome.value
        row.disposition = disposition
        if answered:
            s.add(
                CallRecording(
                    attempt_id=attempt_id,
                    language=language,
                    script=script,
                    amd_status=amd_status,
                    hangup_by=hangup_by,
                    disposition=disposition,
                    flags=[],
                    barge_ins_ms=[],
                    recorded_at=now,
                )
            )


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
