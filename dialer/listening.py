"""The dialer's side of the second opinion on AMD's MACHINE (``dialer.amd``): listening at the edge.

From the answer on, while AMD() runs in the dialplan, a ``Hearing`` (the bot's ear, wired in
by the application: ``bot.media.answer_ear``) takes in what the debtor sends and keeps
``LineHeard`` figures.  When AMD says MACHINE the policy is asked, with more audio for at most
``LISTEN_MORE_MS``; the hearing is then closed, whatever the verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from dialer.amd import LISTEN_MORE_MS, Opinion, second_opinion, status_for
from foundation.contract import LineHeard
from foundation.log import kv
from telephony.ari import AriClient

log = logging.getLogger(__name__)

POLL_S = 0.02  # one frame: how often more audio is looked at while listening on
CLOSE_TIMEOUT_S = 5.0


class Hearing(Protocol):
    """An ear on one answered line."""

    def heard(self) -> LineHeard | None:
        """What was heard so far (None: nothing usable yet)."""
        ...

    async def close(self) -> None:
        """Stop listening and release what the listening took (channels, sockets); never raises."""
        ...


# Starts listening to an answered channel (on the ARI of the node the call is on).
ListenLine = Callable[[AriClient, str], Coroutine[Any, Any, Hearing]]

# The ear the calls placed from this context listen with, when ``place_call`` is given none:
# the composition root sets it where the bot answers (``duncall.compose.campaign``), so the
# dial pipeline between them need not carry it.  None: AMD's verdict alone.
EAR: ContextVar[ListenLine | None] = ContextVar("duncall_answer_ear", default=None)


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str  # the answer's status as the dialer takes it
    opinion: Opinion
    heard: LineHeard | None


async def judge(hearing: asyncio.Task[Hearing] | None, amd_status: str, attempt_id: str) -> Verdict:
    """AMD's status, or the policy's second opinion on it from what the hearing took in."""
    ear = _ready(hearing)
    if amd_status != "MACHINE" or ear is None:
        return Verdict(amd_status, Opinion.KEEP, None)
    until = time.monotonic() + LISTEN_MORE_MS / 1000
    while True:
        heard = ear.heard()
        final = time.monotonic() >= until
        opinion = second_opinion(amd_status, heard, final=final)
        if opinion is not Opinion.LISTEN:
            break
        await asyncio.sleep(POLL_S)
    if opinion is not Opinion.KEEP:
        log.info("AMD's machine taken for a noisy line", extra=kv(attempt_id=attempt_id, opinion=opinion))
    return Verdict(status_for(opinion, amd_status), opinion, heard)


def _ready(hearing: asyncio.Task[Hearing] | None) -> Hearing | None:
    """The hearing if it is listening by now; one still setting up or that failed has nothing to say."""
    if hearing is None or not hearing.done() or hearing.cancelled() or hearing.exception() is not None:
        return None
    return hearing.result()


async def stop(hearing: asyncio.Task[Hearing] | None, attempt_id: str) -> None:
    """Close the hearing, or stop its setup (which releases what it had made); never raises."""
    if hearing is None:
        return
    if not hearing.done():
        hearing.cancel()
    await asyncio.wait({hearing}, timeout=CLOSE_TIMEOUT_S)
    if not hearing.done() or hearing.cancelled():
        return
    exc = hearing.exception()
    if exc is not None:
        log.info("answer listening did not start", extra=kv(attempt_id=attempt_id, error=type(exc).__name__))
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hearing.result().close(), CLOSE_TIMEOUT_S)
