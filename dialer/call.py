"""One outbound attempt as a state machine: dialing → answered → (human | machine) → ended.

The dialer owns the telephony life of the attempt (originate, answer
detection, the outcome from the Q.850 cause); what happens on an answered
call is handed to the bot through ``on_answer``.  Every transition is explicit;
a channel that goes away in any state ends the attempt with the outcome its
hangup cause implies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from foundation.contract import CallOutcome, debtor_channel
from foundation.log import kv
from telephony.ari import (
    AriClient,
    ChannelDestroyed,
    Dial,
    StasisStart,
    new_id,
    outcome_for_cause,
    outcome_for_dialstatus,
)
from telephony.ari.errors import AriError

log = logging.getLogger(__name__)

RING_TIMEOUT_S = 25  # ≥ 15 s (4 rings) as TSR/Ofcom require before giving up
AMD_CONTEXT = "duncall-amd"  # dialplan that runs AMD() and re-enters Stasis with the verdict
AMD_TIMEOUT_S = 10.0
ANSWER_TIMEOUT_MARGIN_S = 5.0
BOT_FINISH_TIMEOUT_S = 15.0  # the bot tears down media and writes its record

R = TypeVar("R")


class CallState(StrEnum):
    DIALING = "dialing"
    ANSWERED = "answered"
    DETECTING = "detecting"
    CONNECTED = "connected"
    ENDED = "ended"


class AnswerKind(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"


@dataclass(frozen=True, slots=True)
class AnsweredCall:
    channel_id: str
    kind: AnswerKind
    amd_status: str
    answered_at: float  # monotonic


@dataclass
class AttemptResult(Generic[R]):
    attempt_id: str
    channel_id: str
    outcome: CallOutcome
    cause: int | None = None
    cause_txt: str = ""
    amd_status: str | None = None
    dialstatus: str | None = None
    ring_ms: float | None = None
    duration_s: float | None = None
    conversation: R | None = None
    states: list[str] = field(default_factory=list)


async def place_call(
    ari: AriClient,
    endpoint: str,
    on_answer: Callable[[AnsweredCall], Awaitable[R]],
    *,
    attempt_id: str | None = None,
    ring_timeout_s: int = RING_TIMEOUT_S,
    caller_id: str | None = None,
    detect_machine: bool = True,
) -> AttemptResult[R]:
    attempt_id = attempt_id or new_id()
    channel_id = debtor_channel(attempt_id)
    result: AttemptResult[R] = AttemptResult(attempt_id, channel_id, CallOutcome.FAILED)
    state = CallState.DIALING
    result.states.append(state)
    started = time.monotonic()
    answered_at: float | None = None
    dial_status_outcome: CallOutcome | None = None
    with ari.channel_events(channel_id) as events:
        try:
            await ari.originate(
                endpoint,
                app=ari.app,
                app_args=("dialed",),
                channel_id=channel_id,
                timeout_s=ring_timeout_s,
                caller_id=caller_id,
                # The AMD dialplan returns the call to this app (several apps share one Asterisk).
                variables={"DUNCALL_APP": ari.app},
            )
        except AriError as exc:
            log.warning(
                "originate refused", extra=kv(attempt_id=attempt_id, status=getattr(exc, "status", None))
            )
            result.outcome = CallOutcome.FAILED
            result.cause_txt = exc.what
            return result
        conversation_task: asyncio.Task[R] | None = None
        try:
            deadline = started + ring_timeout_s + ANSWER_TIMEOUT_MARGIN_S
            while True:
                timeout = (deadline - time.monotonic()) if state is CallState.DIALING else None
                if state is CallState.DETECTING:
                    timeout = AMD_TIMEOUT_S
                # A deadline passing is not the end of the channel's events: tell them apart.
                timed_out = False
                event = None
                if timeout is not None and timeout <= 0:
                    timed_out = True
                else:
                    try:
                        event = await events.get(timeout=timeout)
                    except TimeoutError:
                        timed_out = True
                if timed_out and state is CallState.DIALING:
                    if result.outcome is CallOutcome.NO_ANSWER:
                        break  # hung up, and no ChannelDestroyed came within the margin either
                    result.outcome = CallOutcome.NO_ANSWER
                    await _hangup(ari, channel_id)
                    deadline = time.monotonic() + ANSWER_TIMEOUT_MARGIN_S  # for its ChannelDestroyed
                    continue
                if timed_out and state is CallState.DETECTING:
                    # AMD never reported: treat as human rather than abandon a person.
                    state = CallState.CONNECTED
                    conversation_task = _start(
                        ari, on_answer, channel_id, AnswerKind.HUMAN, "TIMEOUT", answered_at, result
                    )
                    result.states.append(state)
                    continue
                if event is None:
                    break  # the stream ended (the client closed)
                if isinstance(event, StasisStart) and event.channel.id == channel_id:
                    if event.args[:1] == ("dialed",):
                        state = CallState.ANSWERED
                        answered_at = time.monotonic()
                        result.ring_ms = (answered_at - started) * 1000
                        result.outcome = CallOutcome.ANSWERED
                        if detect_machine:
                            state = CallState.DETECTING
                            await ari.continue_in_dialplan(
                                channel_id, context=AMD_CONTEXT, extension="s", priority=1
                            )
                        else:
                            state = CallState.CONNECTED
                            conversation_task = _start(
                                ari, on_answer, channel_id, AnswerKind.HUMAN, "", answered_at, result
                            )
                    elif event.args[:1] == ("amd",):
                        status = event.args[1] if len(event.args) > 1 else "NOTSURE"
                        amd_cause = event.args[2] if len(event.args) > 2 else ""
                        if status == "MACHINE" and amd_cause.startswith("INITIALSILENCE"):
                            # Silence alone is no evidence of a machine, and a person taken for
                            # one counts as an abandoned call: let the bot speak first.
                            status = "NOTSURE"
                        result.amd_status = status
                        kind = AnswerKind.MACHINE if status == "MACHINE" else AnswerKind.HUMAN
                        if kind is AnswerKind.MACHINE:
                            result.outcome = CallOutcome.VOICEMAIL
                        state = CallState.CONNECTED
                        conversation_task = _start(
                            ari, on_answer, channel_id, kind, status, answered_at, result
                        )
                    result.states.append(state)
                elif isinstance(event, Dial) and answered_at is None:
                    # Local and some SIP legs end with cause 0; the Dial status still says why.
                    dial_outcome = outcome_for_dialstatus(event.dialstatus)
                    if dial_outcome is not None:
                        result.dialstatus = event.dialstatus
                        dial_status_outcome = dial_outcome
                elif isinstance(event, ChannelDestroyed) and event.channel.id == channel_id:
                    result.cause, result.cause_txt = event.cause, event.cause_txt
                    if answered_at is None and result.outcome is not CallOutcome.NO_ANSWER:
                        by_cause = outcome_for_cause(event.cause, answered=False)
                        known_cause = event.cause not in (0, 16)
                        result.outcome = (
                            by_cause if known_cause or dial_status_outcome is None else dial_status_outcome
                        )
                    break
        finally:
            state = CallState.ENDED
            result.states.append(state)
            if conversation_task is not None:
                if not conversation_task.done():
                    # The far end is gone: give the bot a moment to notice and finish its record.
                    await asyncio.wait({conversation_task}, timeout=BOT_FINISH_TIMEOUT_S)
                if conversation_task.done() and not conversation_task.cancelled():
                    if conversation_task.exception() is None:
                        result.conversation = conversation_task.result()
                    else:
                        log.error(
                            "conversation failed",
                            exc_info=conversation_task.exception(),
                            extra=kv(attempt_id=attempt_id),
                        )
                else:
                    log.warning("bot did not finish in time; cancelling it", extra=kv(attempt_id=attempt_id))
                    conversation_task.cancel()
                    # Let its clean-up (media socket, bridge) run while the ARI client is still open.
                    await asyncio.wait({conversation_task}, timeout=BOT_FINISH_TIMEOUT_S)
            await _hangup(ari, channel_id)
    if answered_at is not None:
        result.duration_s = time.monotonic() - answered_at
    log.info("attempt ended", extra=kv(attempt_id=attempt_id, outcome=result.outcome, cause=result.cause))
    return result


def _start(
    ari: AriClient,
    on_answer: Callable[[AnsweredCall], Awaitable[R]],
    channel_id: str,
    kind: AnswerKind,
    status: str,
    answered_at: float | None,
    result: AttemptResult[R],
) -> asyncio.Task[R]:
    call = AnsweredCall(channel_id, kind, status, answered_at or time.monotonic())
    return asyncio.create_task(_owned(ari, channel_id, on_answer(call)), name=f"answered:{result.attempt_id}")


async def _owned(ari: AriClient, channel_id: str, aw: Awaitable[R]) -> R:
    try:
        return await aw
    except Exception:
        # Whoever answered failed (a missing script, the media never came up): end the line,
        # else a person who stays on it keeps this call — and the campaign — waiting.
        await _hangup(ari, channel_id)
        raise


async def _hangup(ari: AriClient, channel_id: str) -> None:
    with contextlib.suppress(AriError):
        await ari.hangup(channel_id)
