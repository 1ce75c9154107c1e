"""A campaign's calls on the live board: dialling, answered, each turn, ended.

Wraps the runner's hooks (the guard gate, the answered-call handler, the result
callback) so the runner itself knows nothing of the board; each wrapper publishes
through a ``LivePublisher``, which never makes a call wait.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from dialer.call import AnsweredCall
from dialer.dial.pipeline import DialGate, OnAnswer, TargetResult
from foundation.contract import CallOutcome, ConversationRecord, DialTarget, Turn
from telephony.live import events
from telephony.live.events import LivePublisher

TurnHook = Callable[[Turn, str], None]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CampaignFeed:
    def __init__(
        self, publisher: LivePublisher, campaign: str, clock: Callable[[], dt.datetime] = _utc_now
    ) -> None:
        self.publisher = publisher
        self.campaign = campaign
        self.clock = clock
        # account → its attempt in progress (the guard's min_gap allows one call per account at a time)
        self._attempts: dict[str, str] = {}

    def gate(self, inner: DialGate) -> DialGate:
        return _FeedGate(self, inner)

    def answering(self, inner: OnAnswer) -> OnAnswer:
        async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
            attempt_id = self._attempts.get(target.account_id, "")
            self.publisher.publish(
                events.answered(
                    attempt_id, self.campaign, self.clock(), answer=call.kind.value, amd=call.amd_status
                )
            )
            return await inner(target, call)

        return on_answer

    def turn_hook(self, target: DialTarget) -> TurnHook:
        """For ``bot.answer.converse``: each turn of ``target``'s call, with the dialogue state."""
        attempt_id = self._attempts.get(target.account_id, "")
        seq = 0

        def on_turn(turn: Turn, state: str) -> None:
            nonlocal seq
            self.publisher.publish(
                events.turn(
                    attempt_id,
                    self.campaign,
                    self.clock(),
                    seq=seq,
                    speaker=turn.speaker,
                    text=turn.text,
                    intent=turn.intent,
                    state=state,
                    started_s=turn.started_s,
                    interrupted=turn.interrupted,
                    dtmf=turn.dtmf,
                )
            )
            seq += 1

        return on_turn

    def following(self, account_id: str, attempt_id: str) -> None:
        """The attempt another process placed for ``account_id`` (a bot worker carries its call):
        its turns go on the board under that attempt."""
        self._attempts[account_id] = attempt_id

    def results(self, inner: Callable[[TargetResult], None] | None) -> Callable[[TargetResult], None]:
        def on_result(result: TargetResult) -> None:
            if result.allowed:
                self._attempts.pop(result.target.account_id, None)
                attempt = result.attempt
                outcome = attempt.outcome.value if attempt is not None else CallOutcome.FAILED.value
                conv = attempt.conversation if attempt is not None else None
                self.publisher.publish(
                    events.ended(
                        result.attempt_id,
                        self.campaign,
                        self.clock(),
                        outcome=outcome,
                        disposition=conv.disposition if conv is not None else None,
                    )
                )
            if inner is not None:
                inner(result)

        return on_result

    def _dialing(self, target: DialTarget, attempt_id: str) -> None:
        self._attempts[target.account_id] = attempt_id
        self.publisher.publish(
            events.dialing(
                attempt_id,
                self.campaign,
                self.clock(),
                account_id=target.account_id,
                number=target.number,
                script=target.script,
                stage=target.stage,
            )
        )


class _FeedGate:
    """The guard decides; an allowed dial is on the board from that moment."""

    def __init__(self, feed: CampaignFeed, inner: DialGate) -> None:
        self.feed = feed
        self.inner = inner

    async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
        reasons = await self.inner.reserve(target, attempt_id, at)
        if not reasons:
            self.feed._dialing(target, attempt_id)
        return reasons

    async def outcome(self, attempt_id: str, outcome: CallOutcome, right_party: bool) -> None:
        await self.inner.outcome(attempt_id, outcome, right_party)

    async def withdraw(self, attempt_id: str) -> None:
        await self.inner.withdraw(attempt_id)
