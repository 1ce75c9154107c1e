"""A progressive or predictive campaign whose answered calls go to human agents.

Every ``tick_s`` (and at once when an agent frees or a call resolves) the
loop builds the pacing policy's ``CampaignState`` from the live campaign —
ready agents, the handle time so far of busy ones, when each agent in a
wrap-up of known length is ready, how long each placed call has rung, the
measured answer rate and ring / handle times (the handle times the policy's
survival estimate learns from), the campaign's abandon-rate windows — and
places the number of calls ``decide()`` returns.
Each of them still asks the guard immediately before its originate, exactly
as the bot campaigns do; a denied target costs nothing and is not retried.

A call the answer detection calls a person gets the longest-ready agent at
once (``connect.dial_agent``: one bridge, debtor and agent); with nobody ready,
or the agent's phone not up in time, it hears the recorded message within
the 2 s the regulators allow, is hung up, stored ``abandoned``, counted in the
campaign's 30-day (US TSR) and 24-hour (UK Ofcom) windows and reported to the
guard, whose UK preset then locks the number for 72 hours. Machines are hung
up (agents do not leave voicemail here) and count as not answered for pacing.

A call that fails ends alone (``dialer.dial.pipeline``); while Redis or the
database is away the loop places nothing (``outage``) and a target whose dial
was held goes back to the front of the queue, to be decided again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import Engine

from dialer.agents.after_call import AfterCall, AfterCallQueue
from dialer.agents.connect import ABANDON_MESSAGE, CONNECT_TIMEOUT_S, dial_agent, play_abandon_message, talk
from dialer.agents.desk import WRAP_UP_WAIT_S, DeskPool
from dialer.agents.pool import AgentPool
from dialer.agents.record import abandon_ledger
from dialer.agents.recording import RECORDING_NOTICE, AgentRecording, record_after_notice
from dialer.call import RING_TIMEOUT_S, AnsweredCall, AnswerKind, AttemptResult
from dialer.campaign.outage import Outage
from dialer.campaign.runner import Admission
from dialer.dial.pipeline import DialGate, DialHooks, DialNotPlaced, Pacer, TargetResult, dial_one
from dialer.pacing import (
    DEFAULT_CONFIG,
    DEFAULT_RULES,
    AbandonRule,
    CampaignState,
    DialStatsTracker,
    PacingConfig,
    PacingMode,
    decide,
)
from dialer.pacing.stats import DIAL_WINDOW
from foundation import metrics
from foundation.contract import CallOutcome, ConversationRecord, DialTarget, Disposition
from foundation.errors import InputError
from foundation.log import kv
from telephony.ari import AriClient
from telephony.live.registry import CallKind, Listing, LiveCall, LiveCallRegistry

log = logging.getLogger(__name__)

TICK_S = 1.0  # the pacing loop decides at least this often
PRIOR_DIALS = 50  # imaginary dials the measurements start from (diluted, then pushed out, by real ones)
PRIOR_SAMPLES = 20  # imaginary ring and handle times, likewise
LIVE_PACING = replace(DEFAULT_CONFIG, abandon_grace_s=0.0)  # see AgentCampaignOptions.pacing


@dataclass(frozen=True, slots=True)
class PacingPrior:
    """What the campaign expects before it has measured anything (yesterday's figures, say).

    Ranges in seconds, LOW-HIGH: ``ring_s`` from the dial to "a person answered" (answer
    detection included), ``handle_s`` from connect to the agent ready again (wrap-up included).
    """

    answer_rate: float = 0.3
    ring_s: tuple[float, float] = (15.0, 25.0)
    handle_s: tuple[float, float] = (120.0, 180.0)

    def __post_init__(self) -> None:
        if not 0 < self.answer_rate <= 1:
            raise InputError(f"expected answer rate {self.answer_rate}", "give a rate in (0, 1]")
        for name, (low, high) in (("ring", self.ring_s), ("handle", self.handle_s)):
            if not 0 <= low <= high:
                raise InputError(f"expected {name} time {low}-{high} s", "give LOW-HIGH seconds, LOW <= HIGH")

    def quantiles(self, span: tuple[float, float]) -> list[float]:
        low, high = span
        return [low + (high - low) * (i + 0.5) / PRIOR_SAMPLES for i in range(PRIOR_SAMPLES)]


@dataclass(frozen=True, slots=True)
class AgentCampaignOptions:
    mode: PacingMode
    tick_s: float = TICK_S
    ring_timeout_s: int = RING_TIMEOUT_S
    abandon_message: str = ABANDON_MESSAGE
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    line_limit: int | None = None  # trunk lines: debtor calls up at once, at most
    prior: PacingPrior = PacingPrior()
    # A person the detection calls human gets an agent at once or hears the message (answer
    # detection already spent most of the regulators' 2 s): the model's grace is 0 here.
    pacing: PacingConfig = LIVE_PACING
    rules: tuple[AbandonRule, ...] = DEFAULT_RULES
    wrap_up_wait_s: float = WRAP_UP_WAIT_S  # desks: how long a call's wrap-up is awaited before storing it
    # Played to the debtor (and the agent) once bridged; the call is recorded after it, or not at
    # all (None: no notice, no recording).  ARI media URI.
    recording_notice: str | None = RECORDING_NOTICE

    def __post_init__(self) -> None:
        if self.mode is PacingMode.AGENTLESS:
            raise InputError("agentless pacing is the bot campaign's", "use --mode progressive or predictive")
        if self.tick_s <= 0 or self.connect_timeout_s <= 0:
            raise InputError("tick and connect timeout must be > 0 s", "fix the campaign options")


@dataclass(frozen=True, slots=True)
class AgentCall:
    """What happened to one call a person answered."""

    attempt_id: str
    agent_id: str | None  # who took it (None: abandoned)
    abandoned: bool
    bridge_id: str | None = None
    agent_channel: str | None = None
    message_started_s: float | None = None  # answer → the abandon message started playing
    connected_s: float | None = None  # answer → the agent's leg bridged
    ended_by: str = ""


@dataclass(frozen=True, slots=True)
class PacingTick:
    at_s: float  # monotonic
    ready_agents: int
    ringing: int
    decided: int
    reason: str


@dataclass
class AgentCampaignResult:
    results: list[TargetResult] = field(default_factory=list)
    calls: dict[str, AgentCall] = field(default_factory=dict)  # attempt id → what a person got
    ticks: list[PacingTick] = field(default_factory=list)

    @property
    def abandoned(self) -> int:
        return sum(c.abandoned for c in self.calls.values())

    def lines(self) -> list[str]:
        live = len(self.calls)
        rate = f" ({self.abandoned / live:.1%})" if live else ""
        return [
            f"answered by a person {live}: to an agent {live - self.abandoned}, abandoned {self.abandoned}{rate}"
        ]


async def run_agent_campaign(
    ari: AriClient,
    engine: Engine,
    targets: Sequence[DialTarget],
    gate: DialGate,
    pool: AgentPool | DeskPool,
    options: AgentCampaignOptions,
    *,
    campaign_id: str,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    pacer: Pacer | None = None,
    on_result: Callable[[TargetResult], None] | None = None,
    admission: Admission | None = None,
    outage: Outage | None = None,
    keep_ticks: int = 10_000,
    live: LiveCallRegistry | None = None,
    after_call: AfterCall | None = None,
) -> AgentCampaignResult:
    """Dial every target once at most (if the guard allows), paced by ``options.mode``.

    ``admission`` (campaign control) holds dials while the campaign is paused and drops
    the rest when it is stopped; the pacing policy decides how many go.  ``outage`` holds
    the dials while Redis or the database is away (default: retry after a wait).  ``live``:
    each call bridged to an agent is listed there while it lasts, so a supervisor can listen,
    whisper or barge (``duncall.supervision``).  ``after_call``: each recorded call, once its
    attempt is stored (its transcription), one at a time with a bounded backlog kept in the store
    (``dialer.agents.after_call``); the campaign returns when every one has run.
    """
    out = AgentCampaignResult()
    tracker = DialStatsTracker()
    prior = options.prior
    tracker.prime(
        answer_rate=prior.answer_rate,
        answer_delay_s=prior.quantiles(prior.ring_s),
        handle_s=prior.quantiles(prior.handle_s),
        # Enough imaginary dials for the policy's minimum of measured answers, even at a low rate.
        dials=min(DIAL_WINDOW, max(PRIOR_DIALS, math.ceil(PRIOR_SAMPLES / prior.answer_rate))),
    )
    ledger = await asyncio.to_thread(abandon_ledger, engine, campaign_id, clock(), options.rules)
    ringing: dict[str, float] = {}  # attempt id → when it was placed (monotonic), until it resolves
    recorded: dict[str, tuple[AgentRecording, str]] = {}  # attempt id → its recordings, until stored
    # Each recorded call's after-call step (its transcription): one at a time, a bounded backlog.
    after = AfterCallQueue(after_call, engine, campaign_id=campaign_id) if after_call is not None else None
    changed = asyncio.Event()

    def resolved(attempt_id: str, *, answered: bool) -> None:
        placed = ringing.pop(attempt_id, None)
        if placed is not None:
            tracker.record_dial(answered=answered, ring_s=time.monotonic() - placed)
            changed.set()

    def count_answered(*, abandoned: bool) -> None:
        ledger.record(clock().timestamp(), abandoned=abandoned)

    async def on_answer(target: DialTarget, attempt_id: str, call: AnsweredCall) -> ConversationRecord:
        human = call.kind is AnswerKind.HUMAN
        resolved(attempt_id, answered=human)
        record = ConversationRecord(language=target.language, script=target.script)
        if not human:
            record.disposition = Disposition.NO_CONTACT
            record.hangup_by = "bot"
            await ari.hangup(call.channel_id)
            return record
        agent = pool.claim(attempt_id, time.monotonic(), account_id=target.account_id)
        leg = None
        if agent is not None:
            try:
                leg = await dial_agent(
                    ari,
                    call.channel_id,
                    agent.agent_id,
                    agent.endpoint,
                    attempt_id=attempt_id,
                    timeout_s=options.connect_timeout_s,
                )
            except Exception as exc:
                # The agent's leg failed (Asterisk, a bridge): the person still hears the message
                # rather than silence, and the agent is not left claimed by a call that is not theirs.
                log.warning("agent leg failed", extra=kv(attempt_id=attempt_id, error=type(exc).__name__))
                leg = None
            if leg is None:
                pool.unreachable(agent.agent_id, time.monotonic())
        if leg is None:
            count_answered(abandoned=True)
            played = await play_abandon_message(
                ari, call.channel_id, options.abandon_message, attempt_id=attempt_id
            )
            started = played.started_at - call.answered_at if played.started_at is not None else None
            out.calls[attempt_id] = AgentCall(
                attempt_id, None, True, message_started_s=started, ended_by="dialer"
            )
            log.info("abandoned: no agent ready", extra=kv(attempt_id=attempt_id, message_started_s=started))
            record.disposition = Disposition.ABANDONED
            record.hangup_by = "bot"
            return record
        assert agent is not None
        pool.connected(agent.agent_id, time.monotonic())
        count_answered(abandoned=False)
        connected_s = time.monotonic() - call.answered_at
        listing = None
        try:
            if live is not None:
                listing = await Listing.start(
                    live,
                    LiveCall(
                        attempt_id,
                        call.channel_id,
                        leg.channel_id,
                        leg.bridge_id,
                        target.language,
                        clock(),
                        ari.app,
                        kind=CallKind.AGENT,
                        agent_id=agent.agent_id,
                    ),
                )
            recording = await record_after_notice(
                ari,
                call.channel_id,
                leg,
                attempt_id=attempt_id,
                notice=options.recording_notice,
                answered_at=call.answered_at,
            )
            if recording is not None:
                record.recording = recording.mixed
                recorded[attempt_id] = (recording, target.language)
            ended_by = await talk(ari, call.channel_id, leg)
        finally:
            if listing is not None:
                await listing.close()
            pool.release(agent.agent_id, time.monotonic())
            changed.set()
        out.calls[attempt_id] = AgentCall(
            attempt_id, agent.agent_id, False, leg.bridge_id, leg.channel_id, None, connected_s, ended_by
        )
        record.disposition = Disposition.TRANSFERRED
        record.hangup_by = "debtor" if ended_by == "debtor" else "unknown"
        # The dialer cannot tell who the agent spoke with: count it as a right-party conversation,
        # the side of the 7-day rule that never calls too soon.
        record.right_party = True
        if isinstance(pool, DeskPool):
            # A collector at a desk says what happened: stored with the attempt's end, in its transaction.
            wrap = await pool.wrap_up(agent.agent_id, attempt_id, options.wrap_up_wait_s)
            if wrap is not None:
                wrap.apply(record)
            else:
                log.warning("no wrap-up from the desk in time", extra=kv(attempt_id=attempt_id))
        return record

    held = outage if outage is not None else Outage()

    async def admitted(target: DialTarget, attempt_id: str) -> TargetResult | None:
        """The target's result; None when its dial was held (it is queued again)."""
        try:
            if admission is None:
                return await one(target, attempt_id)
            async with admission.slot() as may_dial:
                if not may_dial:
                    ringing.pop(attempt_id, None)
                    return TargetResult(target, "", False, stopped=True)
                return await one(target, attempt_id)
        except DialNotPlaced as exc:
            held.report(exc.cause)
            if exc.result is not None:
                return exc.result  # allowed, counted, never placed: this target is done
            queue.appendleft(target)  # decided again, under a new attempt id, once the services are back
            return None

    def settle(attempt: AttemptResult[ConversationRecord]) -> None:
        resolved(attempt.attempt_id, answered=False)  # no-op once answered; busy, no answer, failed
        conv = attempt.conversation
        if conv is not None and conv.disposition == Disposition.ABANDONED:
            attempt.outcome = CallOutcome.ABANDONED

    def denied(attempt_id: str) -> None:
        ringing.pop(attempt_id, None)  # never dialled: not a measurement

    hooks = DialHooks(denied=denied, placed=settle)

    async def one(target: DialTarget, attempt_id: str) -> TargetResult:
        try:
            return await dial_one(
                ari,
                engine,
                target,
                lambda call: on_answer(target, attempt_id, call),
                gate,
                attempt_id=attempt_id,
                campaign_id=campaign_id,
                clock=clock,
                pacer=pacer,
                ring_timeout_s=options.ring_timeout_s,
                hooks=hooks,
            )
        except DialNotPlaced as exc:
            if exc.result is None:
                ringing.pop(attempt_id, None)  # never dialled: not a measurement
            raise
        finally:
            resolved(attempt_id, answered=False)  # a dial that failed midway resolves too (no-op else)
            done = recorded.pop(attempt_id, None)
            if done is not None and after is not None:
                await after.submit(*done)

    in_flight = 0

    async def reported(target: DialTarget, attempt_id: str) -> None:
        nonlocal in_flight
        try:
            result = await admitted(target, attempt_id)
        finally:
            in_flight -= 1
            changed.set()
        if result is None:
            return
        out.results.append(result)
        if on_result is not None:
            try:
                on_result(result)
            except Exception:
                # Progress is a view: its failure must not end the campaign.
                log.exception("progress report failed", extra=kv(attempt_id=result.attempt_id))

    queue = deque(targets)
    async with after if after is not None else contextlib.nullcontext(), asyncio.TaskGroup() as tg:
        # Until every target is dialled: a held dial puts its target back while calls are up.
        while queue or in_flight:
            if not queue or held.held:
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(options.tick_s):
                        await changed.wait()
                continue
            now = time.monotonic()
            for handle_s in pool.advance(now):
                tracker.record_handle(handle_s)
            state = CampaignState(
                mode=options.mode,
                free_agents=pool.ready(),
                # An agent's wrap-up of known length ends at a known time: ready then, surely.
                wrap_up_left_s=pool.wrap_up_left_s(now),
                wrap_up_s=pool.wrap_up_s,
                busy_elapsed_s=pool.busy_elapsed_s(now),
                ringing_elapsed_s=tuple(now - placed for placed in ringing.values()),
                stats=tracker.snapshot(),
                windows=ledger.windows(clock().timestamp()),
                line_limit=options.line_limit,
            )
            metrics.abandon_windows(
                campaign_id, ((w.rule.name, w.answered, w.abandoned) for w in state.windows)
            )
            decision = decide(state, options.pacing)
            calls = min(decision.calls, len(queue))
            if len(out.ticks) < keep_ticks:
                out.ticks.append(PacingTick(now, state.free_agents, len(ringing), calls, decision.reason))
            for _ in range(calls):
                target = queue.popleft()
                attempt_id = str(uuid.uuid4())
                ringing[attempt_id] = now
                in_flight += 1
                tg.create_task(reported(target, attempt_id), name=f"agent-target:{target.account_id}")
            changed.clear()
            # Decide again at the next tick, or at once when an agent frees or a call resolves.
            try:
                async with asyncio.timeout(options.tick_s):
                    await changed.wait()
            except TimeoutError:
                pass
    return out


class AgentDialing:
    """A campaign session's dialing by human agents (``dialer.campaign.session.run_session``)."""

    def __init__(
        self,
        pool: AgentPool | DeskPool,
        options: AgentCampaignOptions,
        *,
        after_call: AfterCall | None = None,
    ) -> None:
        self.pool = pool
        self.options = options
        self.after_call = after_call  # a recorded call's transcription (duncall.agent_transcripts)
        self.result = AgentCampaignResult()

    async def run(
        self,
        ari: AriClient,
        engine: Engine,
        targets: Sequence[DialTarget],
        gate: DialGate,
        *,
        campaign_id: str,
        clock: Callable[[], dt.datetime],
        pacer: Pacer | None,
        on_result: Callable[[TargetResult], None] | None,
        admission: Admission | None,
        outage: Outage | None = None,
        live: LiveCallRegistry | None = None,
    ) -> list[TargetResult]:
        self.result = await run_agent_campaign(
            ari,
            engine,
            targets,
            gate,
            self.pool,
            self.options,
            campaign_id=campaign_id,
            clock=clock,
            pacer=pacer,
            on_result=on_result,
            admission=admission,
            outage=outage,
            live=live,
            after_call=self.after_call,
        )
        return self.result.results
