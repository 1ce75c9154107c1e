"""One outbound attempt as a state machine: dialing → (detecting) → connected → ended.

The dialer owns the telephony life of the attempt (originate, answer
detection, the outcome from the Q.850 cause); what happens on an answered
call is handed to the bot through ``on_answer``.  The transitions are data
(``TRANSITIONS``: (state, event kind) → handler, each handler small and
returning the next state), as the cause table in ``telephony.ari.causes`` is
for outcomes; a channel that goes away in any state ends the attempt with the
outcome its hangup cause implies.

    dialing   --answered-->  detecting (answer detection) | connected (no detection)
    dialing   --timeout--->  dialing (hung up, NO_ANSWER; waits for its ChannelDestroyed)
                             | ended (that did not come either)
    detecting --amd------->  connected (human or machine)
    detecting --timeout--->  connected (taken for a person)
    any       --dial------>  same (a Dial status before the answer, for the outcome)
    connected --timeout--->  ended (the call outlived ``MAX_CALL_S``: hung up)
    any       --reconnected> same | ended (its channel is not in Asterisk's list any more)
    any       --node_silent> same (Asterisk answers and has the channel)
                             | ended (its node stopped answering: ``node lost``; or the channel is gone)
    any       --destroyed->  ended
    any       --closed---->  ended

No state waits without a deadline, and nothing that fails inside one attempt
(the originate, the events, the answerer) escapes ``place_call``: the attempt
ends with what is known of it, its channel hung up, and the other calls of
the campaign are not disturbed.  Only cancellation propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

import httpx

from dialer import listening
from dialer.amd import describe
from foundation import metrics
from foundation.contract import CallOutcome, debtor_channel
from foundation.errors import DuncallError
from foundation.log import kv
from telephony.ari import (
    AriClient,
    ChannelDestroyed,
    Dial,
    Disconnected,
    Reconnected,
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
# A connected call longer than this is stuck (a lost ChannelDestroyed), not a conversation:
# it is hung up, so no call waits without a deadline.
MAX_CALL_S = 3600.0
# After an originate whose answer never came, how long a channel it may still have made is
# watched for (and hung up again if it shows up).
ORIGINATE_SETTLE_S = 2.0
# The events WebSocket down this long: Asterisk is asked whether the channel is still there; a node
# that does not answer has lost the call (it stopped, or is cut off): the attempt ends ``node lost``.
NODE_SILENT_S = 3.0
NODE_LOST = "asterisk node lost"

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
    # The ARI of the node the call is on (several nodes: ``dialer.dial.nodes``); None: the caller's.
    ari: AriClient | None = None


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
    # False only when Asterisk refused the originate (a 4xx): no channel was made, nothing reached
    # the network.  An unanswered or failed originate may have rung the debtor: placed stays True.
    placed: bool = True
    amd_verdict: str | None = None  # AMD's own status and cause, before any second opinion
    line_heard: str | None = None  # what the bot's ear heard when AMD said MACHINE (``dialer.amd``)


class EventKind(StrEnum):
    """What the state machine reacts to: the ARI events of the attempt's channel, and time."""

    TIMEOUT = "timeout"  # the state's deadline passed
    CLOSED = "closed"  # the event stream ended (the client closed)
    ANSWERED = "answered"  # the channel entered Stasis answered ("dialed")
    AMD = "amd"  # it re-entered Stasis with answer detection's verdict
    STASIS = "stasis"  # it entered Stasis for another reason
    DIAL_STATUS = "dial_status"  # a Dial event before the answer
    DESTROYED = "destroyed"  # the channel is gone
    RECONNECTED = "reconnected"  # the events WebSocket came back: events may have been missed
    DISCONNECTED = "disconnected"  # the events WebSocket dropped
    NODE_SILENT = "node_silent"  # it has been down NODE_SILENT_S: is the node still there?
    OTHER = "other"  # nothing this machine acts on


@dataclass
class _Attempt(Generic[R]):
    """The state machine's memory of one attempt."""

    ari: AriClient
    on_answer: Callable[[AnsweredCall], Awaitable[R]]
    detect_machine: bool
    result: AttemptResult[R]
    started: float  # monotonic
    deadline: float  # monotonic: the ring deadline while dialing
    max_call_s: float = MAX_CALL_S
    placed_at: float = 0.0  # monotonic: when the originate returned
    listen: listening.ListenLine | None = None  # the bot's ear while AMD runs (None: AMD alone)
    on_up: Callable[[], None] | None = None  # told at the answer itself, before any detection
    hearing: asyncio.Task[listening.Hearing] | None = None
    hearing_closed: asyncio.Task[None] | None = None
    state: CallState = CallState.DIALING
    answered_at: float | None = None
    dial_status_outcome: CallOutcome | None = None
    conversation: asyncio.Task[R] | None = None
    disconnected_at: float | None = None  # monotonic: the events WebSocket dropped (not back yet)

    @property
    def channel_id(self) -> str:
        return self.result.channel_id

    def enter(self, state: CallState) -> CallState:
        self.state = state
        self.result.states.append(state)
        return state

    def converse(self, kind: AnswerKind, status: str) -> None:
        self.conversation = _start(
            self.ari, self.on_answer, self.channel_id, kind, status, self.answered_at, self.result
        )


Handler = Callable[["_Attempt[Any]", Any], Awaitable[CallState]]


def _wait_dialing(a: _Attempt[Any]) -> float | None:
    return a.deadline - time.monotonic()


def _wait_detecting(a: _Attempt[Any]) -> float | None:
    return AMD_TIMEOUT_S


def _wait_connected(a: _Attempt[Any]) -> float | None:
    # The call lasts as long as the conversation (its channel's end stops it), up to a maximum.
    return (a.answered_at or a.started) + a.max_call_s - time.monotonic()


# How long each live state waits for its next event (None: no deadline).
WAIT: dict[CallState, Callable[[_Attempt[Any]], float | None]] = {
    CallState.DIALING: _wait_dialing,
    CallState.DETECTING: _wait_detecting,
    CallState.CONNECTED: _wait_connected,
}


def classify(event: Any, channel_id: str, answered: bool) -> EventKind:
    if isinstance(event, StasisStart) and event.channel.id == channel_id:
        first = event.args[:1]
        if first == ("dialed",):
            return EventKind.ANSWERED
        if first == ("amd",):
            return EventKind.AMD
        return EventKind.STASIS
    if isinstance(event, Dial) and not answered:
        return EventKind.DIAL_STATUS
    if isinstance(event, ChannelDestroyed) and event.channel.id == channel_id:
        return EventKind.DESTROYED
    if isinstance(event, Reconnected):
        return EventKind.RECONNECTED
    if isinstance(event, Disconnected):
        return EventKind.DISCONNECTED
    return EventKind.OTHER


async def _ring_timeout(a: _Attempt[Any], event: None) -> CallState:
    if a.result.outcome is CallOutcome.NO_ANSWER:
        return CallState.ENDED  # hung up, and no ChannelDestroyed came within the margin either
    a.result.outcome = CallOutcome.NO_ANSWER
    await _hangup(a.ari, a.channel_id)
    a.deadline = time.monotonic() + ANSWER_TIMEOUT_MARGIN_S  # for its ChannelDestroyed
    return a.state


def _stop_hearing(a: _Attempt[Any]) -> None:
    """Detection is over: the bot's ear leaves the line (in the background; the call goes on)."""
    if a.hearing is not None:
        a.hearing_closed = asyncio.create_task(
            listening.stop(a.hearing, a.result.attempt_id), name=f"answer-ear-close:{a.result.attempt_id}"
        )
        a.hearing = None


async def _amd_timeout(a: _Attempt[Any], event: None) -> CallState:
    # AMD never reported: treat as human rather than abandon a person.
    _stop_hearing(a)
    a.converse(AnswerKind.HUMAN, "TIMEOUT")
    return a.enter(CallState.CONNECTED)


async def _closed(a: _Attempt[Any], event: None) -> CallState:
    return CallState.ENDED


async def _too_long(a: _Attempt[Any], event: None) -> CallState:
    log.warning("call reached its maximum duration; hanging up", extra=kv(attempt_id=a.result.attempt_id))
    return CallState.ENDED  # place_call hangs the channel up on the way out


async def _reconnected(a: _Attempt[Any], event: Reconnected) -> CallState:
    """Events were missed while the WebSocket was down: is the channel still there?"""
    a.disconnected_at = None
    alive = await channel_census(a.ari, a.channel_id, a.placed_at)
    if alive is not False:
        return a.state  # still up, or Asterisk could not say: the state's deadline still holds
    log.warning("channel gone after an ARI reconnect", extra=kv(attempt_id=a.result.attempt_id))
    _unknown_end(a)
    return CallState.ENDED


def _unknown_end(a: _Attempt[Any]) -> None:
    if a.answered_at is None and a.result.outcome is not CallOutcome.NO_ANSWER:
        a.result.outcome = a.dial_status_outcome or CallOutcome.FAILED  # what happened is unknown


async def _disconnected(a: _Attempt[Any], event: Disconnected) -> CallState:
    if a.disconnected_at is None:
        a.disconnected_at = time.monotonic()
    return a.state


async def _node_silent(a: _Attempt[Any], event: None) -> CallState:
    """No events for NODE_SILENT_S: a node that still answers keeps the call; one that does not lost it."""
    try:
        listed = {c.id for c in await a.ari.list_channels()}
    except DuncallError:
        log.error("Asterisk node lost with the call on it", extra=kv(attempt_id=a.result.attempt_id))
        _unknown_end(a)  # answered stays answered: the conversation's record says how far it got
        a.result.cause_txt = NODE_LOST
        return CallState.ENDED
    if a.channel_id not in listed:
        log.warning("channel gone while the ARI events were down", extra=kv(attempt_id=a.result.attempt_id))
        _unknown_end(a)
        return CallState.ENDED
    a.disconnected_at = time.monotonic()  # the node is there, only its events are late: wait again
    return a.state


async def _answered(a: _Attempt[Any], event: StasisStart) -> CallState:
    a.state = CallState.ANSWERED
    a.answered_at = time.monotonic()
    a.result.ring_ms = (a.answered_at - a.started) * 1000
    a.result.outcome = CallOutcome.ANSWERED
    if a.on_up is not None:
        a.on_up()
    if a.detect_machine:
        if a.listen is not None:
            # From the answer on, alongside AMD: its MACHINE may be only a noisy line.
            a.hearing = asyncio.create_task(
                a.listen(a.ari, a.channel_id), name=f"answer-ear:{a.result.attempt_id}"
            )
        try:
            await a.ari.continue_in_dialplan(a.channel_id, context=AMD_CONTEXT, extension="s", priority=1)
        except DuncallError as exc:
            # Mostly the person hung up right after answering (the channel left Stasis): its
            # ChannelDestroyed ends the attempt.  Otherwise detection's deadline takes the
            # line for a person, as when AMD never reports.
            log.info(
                "answer detection not started",
                extra=kv(attempt_id=a.result.attempt_id, error=type(exc).__name__),
            )
        return a.enter(CallState.DETECTING)
    a.converse(AnswerKind.HUMAN, "")
    return a.enter(CallState.CONNECTED)


async def _amd(a: _Attempt[Any], event: StasisStart) -> CallState:
    status = event.args[1] if len(event.args) > 1 else "NOTSURE"
    amd_cause = event.args[2] if len(event.args) > 2 else ""
    if status == "MACHINE" and amd_cause.startswith("INITIALSILENCE"):
        # Silence alone is no evidence of a machine, and a person taken for
        # one counts as an abandoned call: let the bot speak first.
        status = "NOTSURE"
    a.result.amd_verdict = "/".join(x for x in event.args[1:3] if x) or None
    if a.hearing is not None:
        verdict = await listening.judge(a.hearing, status, a.result.attempt_id)
        if verdict.heard is not None:
            a.result.line_heard = f"{verdict.opinion}: {describe(verdict.heard)}"
        status = verdict.status
        _stop_hearing(a)
    a.result.amd_status = status
    kind = AnswerKind.MACHINE if status == "MACHINE" else AnswerKind.HUMAN
    if kind is AnswerKind.MACHINE:
        a.result.outcome = CallOutcome.VOICEMAIL
    a.converse(kind, status)
    return a.enter(CallState.CONNECTED)


async def _stasis(a: _Attempt[Any], event: StasisStart) -> CallState:
    return a.enter(a.state)  # recorded, nothing changes


async def _dial_status(a: _Attempt[Any], event: Dial) -> CallState:
    # Local and some SIP legs end with cause 0; the Dial status still says why.
    dial_outcome = outcome_for_dialstatus(event.dialstatus)
    if dial_outcome is not None:
        a.result.dialstatus = event.dialstatus
        a.dial_status_outcome = dial_outcome
    return a.state


async def _destroyed(a: _Attempt[Any], event: ChannelDestroyed) -> CallState:
    result = a.result
    result.cause, result.cause_txt = event.cause, event.cause_txt
    if a.answered_at is None and result.outcome is not CallOutcome.NO_ANSWER:
        by_cause = outcome_for_cause(event.cause, answered=False)
        known_cause = event.cause not in (0, 16)
        result.outcome = by_cause if known_cause or a.dial_status_outcome is None else a.dial_status_outcome
    return CallState.ENDED


LIVE_STATES = (CallState.DIALING, CallState.DETECTING, CallState.CONNECTED)

# (state, event kind) → handler; a pair not listed leaves the state as it is.
TRANSITIONS: dict[tuple[CallState, EventKind], Handler] = {
    (CallState.DIALING, EventKind.TIMEOUT): _ring_timeout,
    (CallState.DETECTING, EventKind.TIMEOUT): _amd_timeout,
    (CallState.CONNECTED, EventKind.TIMEOUT): _too_long,
    **{(s, EventKind.RECONNECTED): _reconnected for s in LIVE_STATES},
    **{(s, EventKind.DISCONNECTED): _disconnected for s in LIVE_STATES},
    **{(s, EventKind.NODE_SILENT): _node_silent for s in LIVE_STATES},
    **{(s, EventKind.CLOSED): _closed for s in LIVE_STATES},
    **{(s, EventKind.ANSWERED): _answered for s in LIVE_STATES},
    **{(s, EventKind.AMD): _amd for s in LIVE_STATES},
    **{(s, EventKind.STASIS): _stasis for s in LIVE_STATES},
    **{(s, EventKind.DIAL_STATUS): _dial_status for s in LIVE_STATES},
    **{(s, EventKind.DESTROYED): _destroyed for s in LIVE_STATES},
}


async def _next_event(events: Any, wait_s: float | None) -> tuple[Any, bool]:
    """The next event, or (None, True) when the deadline passed: not the end of the events."""
    if wait_s is not None and wait_s <= 0:
        return None, True
    try:
        return await events.get(timeout=wait_s), False
    except TimeoutError:
        return None, True


async def place_call(
    ari: AriClient,
    endpoint: str,
    on_answer: Callable[[AnsweredCall], Awaitable[R]],
    *,
    attempt_id: str | None = None,
    ring_timeout_s: int = RING_TIMEOUT_S,
    caller_id: str | None = None,
    detect_machine: bool = True,
    max_call_s: float = MAX_CALL_S,
    listen: listening.ListenLine | None = None,
    on_up: Callable[[], None] | None = None,
) -> AttemptResult[R]:
    """Dial ``endpoint`` and follow the call to its end; never raises but for cancellation.

    ``on_up``: called once when the line is answered, before answer detection has a verdict
    (it must not block: it schedules its own work).

    ``listen``: the bot's ear on the answer while AMD runs, for a second opinion on its MACHINE
    (``dialer.amd``); default: the context's (``dialer.listening.EAR``; none: AMD's verdict alone).
    """
    attempt_id = attempt_id or new_id()
    channel_id = debtor_channel(attempt_id)
    result: AttemptResult[R] = AttemptResult(attempt_id, channel_id, CallOutcome.FAILED)
    started = time.monotonic()
    a = _Attempt(
        ari,
        on_answer,
        detect_machine,
        result,
        started,
        started + ring_timeout_s + ANSWER_TIMEOUT_MARGIN_S,
        max_call_s,
        listen=listen if listen is not None else listening.EAR.get(),
        on_up=on_up,
    )
    result.states.append(a.state)
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
            status = getattr(exc, "status", None)
            log.warning("originate refused", extra=kv(attempt_id=attempt_id, status=status))
            result.cause_txt = exc.what
            if exc.retryable:
                await _sweep(ari, channel_id, events)  # a 5xx does not prove no channel was made
            else:
                result.placed = False  # Asterisk refused the request itself: no channel exists
            return result
        except (DuncallError, httpx.HTTPError, OSError, TimeoutError) as exc:
            # No answer to the originate (a timeout, a dropped connection): Asterisk may have
            # made the channel and be ringing the debtor.  Hang it up; the attempt failed.
            log.warning(
                "originate unanswered; hanging up what it may have made",
                extra=kv(attempt_id=attempt_id, error=type(exc).__name__),
            )
            result.cause_txt = exc.what if isinstance(exc, DuncallError) else type(exc).__name__
            await _sweep(ari, channel_id, events)
            return result
        a.placed_at = time.monotonic()
        live = metrics.CallStates(a.state)  # the duncall_calls gauge follows this call's state
        try:
            while True:
                wait_s = WAIT[a.state](a)
                silent_s = None if a.disconnected_at is None else a.disconnected_at + NODE_SILENT_S
                silent = silent_s is not None and (wait_s is None or silent_s - time.monotonic() < wait_s)
                if silent and silent_s is not None:
                    wait_s = silent_s - time.monotonic()
                event, timed_out = await _next_event(events, wait_s)
                if timed_out and silent:
                    kind = EventKind.NODE_SILENT
                elif timed_out:
                    kind = EventKind.TIMEOUT
                elif event is None:
                    kind = EventKind.CLOSED
                else:
                    kind = classify(event, channel_id, answered=a.answered_at is not None)
                handler = TRANSITIONS.get((a.state, kind))
                if handler is not None and await handler(a, event) is CallState.ENDED:
                    break
                live.move(a.state)
        except Exception as exc:
            # The events were lost or a step failed: this call ends with what is known of it
            # (answered stays answered); the channel is hung up below.  Other calls go on.
            # The exception's text may carry the debtor's number: its type is logged, not its text.
            log.error(
                "attempt failed; ending it",
                extra=kv(attempt_id=attempt_id, state=a.state, error=type(exc).__name__),
            )
            result.cause_txt = result.cause_txt or type(exc).__name__
        finally:
            live.end()
            a.enter(CallState.ENDED)
            await listening.stop(a.hearing, attempt_id)
            if a.hearing_closed is not None:
                await a.hearing_closed
            if a.conversation is not None:
                await _finish(a.conversation, attempt_id, result)
            await _hangup(ari, channel_id)
    if a.answered_at is not None:
        result.duration_s = time.monotonic() - a.answered_at
    log.info("attempt ended", extra=kv(attempt_id=attempt_id, outcome=result.outcome, cause=result.cause))
    return result


async def _sweep(ari: AriClient, channel_id: str, events: Any) -> None:
    """Hang up a channel an unanswered originate may have made, including one that shows up late."""
    await _hangup(ari, channel_id)
    deadline = time.monotonic() + ORIGINATE_SETTLE_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = await events.get(timeout=left)
        except TimeoutError:
            return
        except DuncallError:
            return  # the events are gone too: the hangup above is all that can be done
        if event is None or (isinstance(event, ChannelDestroyed) and event.channel.id == channel_id):
            return
        if channel_id in _channel_ids(event):
            await _hangup(ari, channel_id)


def _channel_ids(event: Any) -> set[str]:
    channel = getattr(event, "channel", None)
    return {channel.id} if channel is not None else set()


@dataclass
class _Census:
    generation: int
    asked_at: float  # monotonic
    listing: asyncio.Task[frozenset[str]]


# One channel list per client and reconnect, shared by the calls that ask after it.
_CENSUS: weakref.WeakKeyDictionary[Any, _Census] = weakref.WeakKeyDictionary()


async def channel_census(ari: AriClient, channel_id: str, placed_at: float = 0.0) -> bool | None:
    """Whether ``channel_id`` is in Asterisk's channel list (None: the list could not be read).

    After a reconnect every live call asks; one ``list_channels`` answers them all, unless it
    was asked for before the call's originate returned (its channel may postdate the list).
    """
    generation = getattr(ari, "reconnects", 0)
    census = _CENSUS.get(ari)
    if census is None or census.generation != generation or census.asked_at < placed_at:
        census = _Census(generation, time.monotonic(), asyncio.ensure_future(_channel_list(ari)))
        _CENSUS[ari] = census
    try:
        listed = await asyncio.shield(census.listing)
    except DuncallError:
        return None
    return channel_id in listed


async def _channel_list(ari: AriClient) -> frozenset[str]:
    return frozenset(c.id for c in await ari.list_channels())


async def _finish(conversation: asyncio.Task[R], attempt_id: str, result: AttemptResult[R]) -> None:
    """Wait for whoever answered to finish its record; cancel it if it does not in time."""
    if not conversation.done():
        # The far end is gone: give the bot a moment to notice and finish its record.
        await asyncio.wait({conversation}, timeout=BOT_FINISH_TIMEOUT_S)
    if conversation.done() and not conversation.cancelled():
        if conversation.exception() is None:
            result.conversation = conversation.result()
        else:
            log.error(
                "conversation failed", exc_info=conversation.exception(), extra=kv(attempt_id=attempt_id)
            )
    else:
        log.warning("bot did not finish in time; cancelling it", extra=kv(attempt_id=attempt_id))
        conversation.cancel()
        # Let its clean-up (media socket, bridge) run while the ARI client is still open.
        await asyncio.wait({conversation}, timeout=BOT_FINISH_TIMEOUT_S)


def _start(
    ari: AriClient,
    on_answer: Callable[[AnsweredCall], Awaitable[R]],
    channel_id: str,
    kind: AnswerKind,
    status: str,
    answered_at: float | None,
    result: AttemptResult[R],
) -> asyncio.Task[R]:
    call = AnsweredCall(channel_id, kind, status, answered_at or time.monotonic(), ari)
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
    # Gone already (404), or Asterisk unreachable: nothing more can be done from here, and a
    # failed hangup must not stop the attempt's end from being recorded.
    with contextlib.suppress(DuncallError):
        await ari.hangup(channel_id)
