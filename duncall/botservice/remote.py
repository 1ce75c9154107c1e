"""The dialer's side of the bot service (``DUNCALL_BOT=remote``): answered calls go to the workers.

``remote_answer`` is a campaign's ``OnAnswer`` like ``duncall.compose.answer.bot_answer``, but
the conversation runs in a bot worker (``duncall bot serve``).  For each answered call:

1. the dialer's own Stasis app subscribes to the debtor's channel, so it still hears the call's
   end once a worker has moved the channel into its app (the attempt's state machine in
   ``dialer.call`` ends on that ChannelDestroyed, as with the bot in-process);
2. the job goes on the stream; a worker takes it within ``TAKE_S`` or the dialer abandons it —
   the abandon message plays and the call ends, recorded ``abandoned`` (a person answered and
   nobody spoke to them in time, as a predictive campaign's call no agent took);
3. the worker's record comes back when the call ends.  A worker that dies with the call
   (its heartbeat expires) has the call hung up here and the attempt stored without a
   conversation (answered, ``incomplete``), never left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from dialer.agents.connect import ABANDON_MESSAGE, play_abandon_message
from dialer.call import AnsweredCall
from dialer.campaign.runner import OnAnswer
from duncall.botservice.jobs import TAKE_S, BotJob, BotJobs
from foundation.contract import ConversationRecord, DialTarget, Disposition, attempt_of
from foundation.errors import DuncallError, ServiceUnavailable
from foundation.log import kv
from telephony.ari import AriClient

log = logging.getLogger(__name__)

TAKE_POLL_S = 0.1  # while nobody took the job: how often the dialer looks
REPLY_POLL_S = 1.0  # once taken: how long each wait for the record lasts before the worker is checked


class WorkerLost(ServiceUnavailable):
    """The worker carrying a call stopped (its heartbeat expired): the call is ended as lost."""


def remote_answer(
    ari: AriClient, jobs: BotJobs, *, campaign_id: str | None, take_s: float = TAKE_S
) -> OnAnswer:
    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        here = call.ari or ari
        attempt_id = attempt_of(call.channel_id)
        source = f"channel:{call.channel_id}"
        # Before the move: the app keeps the channel's events after it leaves for a worker's app.
        await here.subscribe_source(source)
        try:
            job = BotJob(
                attempt_id,
                call.channel_id,
                here.settings.base_url.rstrip("/"),
                target,
                call.kind.value,
                call.amd_status,
                campaign_id,
            )
            await jobs.submit(job, take_s)
            worker = await _taken_by(jobs, attempt_id, take_s)
            if worker is None:
                return await _abandon(here, target, call.channel_id)
            log.info("bot worker took the call", extra=kv(attempt_id=attempt_id, worker=worker))
            return await _record(jobs, here, attempt_id, call.channel_id, worker)
        finally:
            # Asterisk drops the subscription when the channel goes; unsubscribing here could
            # lose the ChannelDestroyed the attempt waits for.
            here.forget_source(source)

    return on_answer


async def _taken_by(jobs: BotJobs, job_id: str, take_s: float) -> str | None:
    """The worker that took the job, or None once this dialer abandoned it."""
    deadline = time.monotonic() + take_s
    while True:
        state = await jobs.state(job_id)
        if state is None and time.monotonic() >= deadline:
            if await jobs.abandon(job_id):
                return None
            state = await jobs.state(job_id)  # a worker took it at the last moment
        if state is not None:
            return state.removeprefix("taken:") if state.startswith("taken:") else None
        await asyncio.sleep(TAKE_POLL_S)


async def _abandon(ari: AriClient, target: DialTarget, channel_id: str) -> ConversationRecord:
    attempt_id = attempt_of(channel_id)
    log.warning("no bot worker took the call in time: abandoned", extra=kv(attempt_id=attempt_id))
    await play_abandon_message(ari, channel_id, ABANDON_MESSAGE, attempt_id=attempt_id)
    return ConversationRecord(language=target.language, disposition=Disposition.ABANDONED, hangup_by="bot")


async def _record(
    jobs: BotJobs, ari: AriClient, job_id: str, channel_id: str, worker: str
) -> ConversationRecord:
    try:
        while True:
            reply = await jobs.reply(job_id, REPLY_POLL_S)
            if isinstance(reply, ConversationRecord):
                return reply
            if isinstance(reply, str):
                raise ServiceUnavailable(
                    f"the bot worker could not carry the call ({reply})", "see the bot worker's log"
                )
            if not await jobs.worker_alive(worker):
                log.error("bot worker lost with the call on it", extra=kv(attempt_id=job_id, worker=worker))
                with contextlib.suppress(DuncallError):
                    await ari.hangup(channel_id)
                raise WorkerLost(
                    f"bot worker {worker} lost mid-call", "see that worker's log; the call was ended"
                )
    finally:
        await jobs.forget(job_id)
