"""An agentless (bot) campaign over a list of targets.

For each target: dial it through the one pipeline (``dialer.dial.pipeline.dial_one``:
guard reservation, attempt row, originate, outcome), handing an answered call
to the bot.  At most ``concurrency`` calls are live at once (the bot's
capacity, K).  Whether a target may be dialled at all is the guard's
decision, taken immediately before the originate (``DialGate``); the order of
the durable writes that makes a crash safe is the pipeline's.

A call that fails ends alone (the pipeline handles it); a service the dials
need going away holds the campaign (``outage``) and the held targets are tried
again, each under a new decision, once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from sqlalchemy import Engine

from dialer.call import RING_TIMEOUT_S, AttemptResult
from dialer.campaign.outage import Outage
from dialer.dial.pipeline import DialGate as DialGate
from dialer.dial.pipeline import DialHooks, DialNotPlaced, NodePicker, dial_one
from dialer.dial.pipeline import OnAnswer as OnAnswer
from dialer.dial.pipeline import Pacer as Pacer
from dialer.dial.pipeline import TargetResult as TargetResult
from foundation.contract import CallOutcome, ConversationRecord, DialTarget, Disposition
from foundation.errors import InputError
from foundation.log import kv
from telephony.ari import AriClient

log = logging.getLogger(__name__)


class Admission(Protocol):
    """Whether the next dial may go: holds it while paused or at the live-call limit (``control``)."""

    def slot(self) -> AbstractAsyncContextManager[bool]:
        """Held for the whole call; yields False when the campaign was stopped (dial nothing)."""
        ...


class FixedSlots:
    """``concurrency`` calls at once, never paused (runs without campaign control)."""

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        async with self._slots:
            yield True


def _settle(attempt: AttemptResult[ConversationRecord]) -> None:
    # A person answered and nobody spoke to them in time (no bot worker took the call): the
    # attempt is an abandoned call, as a predictive campaign's call no agent took.
    conv = attempt.conversation
    if conv is not None and conv.disposition is Disposition.ABANDONED:
        attempt.outcome = CallOutcome.ABANDONED


BOT_HOOKS = DialHooks(placed=_settle)


async def run_campaign(
    ari: AriClient,
    engine: Engine,
    targets: Sequence[DialTarget],
    on_answer: OnAnswer,
    gate: DialGate,
    *,
    campaign_id: str | None = None,
    concurrency: int = 4,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    pacer: Pacer | None = None,
    ring_timeout_s: int = RING_TIMEOUT_S,
    on_result: Callable[[TargetResult], None] | None = None,
    admission: Admission | None = None,
    outage: Outage | None = None,
    nodes: NodePicker | None = None,
) -> list[TargetResult]:
    """Dial every target once (if the guard allows), at most ``concurrency`` at a time.

    Targets are started in order; ``on_result`` sees each result as it ends (progress).
    ``admission`` (campaign control) replaces the fixed ``concurrency``: pause, stop, new limits.
    ``outage`` holds the dials while Redis or the database is away (default: retry after a wait).
    ``nodes``: each call goes to an Asterisk node with a free channel instead of ``ari``.
    """
    if concurrency < 1:
        raise InputError(f"concurrency {concurrency} must be at least 1", "pass --concurrency 1 or more")
    slots = admission if admission is not None else FixedSlots(concurrency)
    held = outage if outage is not None else Outage()

    async def one(target: DialTarget) -> TargetResult:
        while True:
            await held.wait()
            async with slots.slot() as may_dial:
                if not may_dial:
                    return TargetResult(target, "", False, stopped=True)
                try:
                    return await dial_one(
                        ari,
                        engine,
                        target,
                        lambda call: on_answer(target, call),
                        gate,
                        campaign_id=campaign_id,
                        clock=clock,
                        pacer=pacer,
                        ring_timeout_s=ring_timeout_s,
                        nodes=nodes,
                        hooks=BOT_HOOKS,
                    )
                except DialNotPlaced as exc:
                    held.report(exc.cause)
                    if exc.result is not None:
                        return exc.result  # allowed, counted, never placed: this target is done
            # Nothing was decided: the slot is freed, and the target waits for the services.

    async def reported(target: DialTarget) -> TargetResult:
        result = await one(target)
        if on_result is not None:
            try:
                on_result(result)
            except Exception:
                # Progress is a view: its failure must not end the campaign.
                log.exception("progress report failed", extra=kv(attempt_id=result.attempt_id))
        return result

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(reported(t), name=f"target:{t.account_id}") for t in targets]
    return [t.result() for t in tasks]
