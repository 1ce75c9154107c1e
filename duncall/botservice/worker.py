"""``duncall bot serve``: a bot worker, carrying the calls dialers hand over (``DUNCALL_BOT=remote``).

A worker loads the bot's engines once, connects a Stasis app of its own on every Asterisk node
(``<DUNCALL_ARI_APP>-bot-<worker>``: Asterisk sends an app's events to one WebSocket only), and
takes jobs from the stream (``duncall.botservice.jobs``) while it has a free call slot — at most
``calls`` at once; a job it cannot take waits for another worker, or is abandoned by its dialer.

For each job: the debtor's channel is moved from the dialer's app into the worker's
(``POST /channels/{id}/move``), and the call runs through the same path as in a dialer
(``duncall.compose.answer.bot_answer`` → ``bot.answer.converse`` → ``bot.callbot.run_bot``):
the media is a chan_websocket channel the worker makes on the call's node, and the record goes
back to the dialer, which stores the attempt.  Several workers may run, on other machines than
the dialers and Asterisk; they need Redis, the store (accounts and scripts) and ARI.

SIGTERM stops taking jobs; the calls up run to their end first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from dialer.call import AnsweredCall, AnswerKind
from dialer.campaign.feed import CampaignFeed
from dialer.campaign.runner import OnAnswer
from duncall.botservice.jobs import HEARTBEAT_S, BotJob, BotJobs, Delivery
from duncall.compose import parts
from duncall.compose.answer import bot_answer
from foundation import services, settings
from foundation.contract import ConversationRecord
from foundation.errors import DuncallError, InputError, ServiceUnavailable
from foundation.log import kv
from telephony.ari import AriClient, ChannelDestroyed, StasisStart
from telephony.live.events import LivePublisher, live_prefix

log = logging.getLogger(__name__)

MOVE_TIMEOUT_S = 3.0  # the moved channel's StasisStart in the worker's app
RECLAIM_EVERY_S = 2.0  # how often a worker looks for jobs a dead worker read and never took
READ_BLOCK_S = 1.0
REDIS_RETRY_S = 1.0
MOVED_ARG = "bot"  # the worker's app sees the moved channel's StasisStart with this argument


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def check_name(name: str) -> str:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(
            f"worker name {name!r} is not 1-64 letters, digits, '-', '_' or '.'", "pass --name like bot-1"
        )
    return name


@dataclass
class WorkerStats:
    carried: int = 0
    failed: int = 0
    cpu_s: float = 0.0  # process CPU while carrying calls (after the engines were loaded)


class BotWorker:
    """Takes jobs while it has a slot; each call is one task, never more than ``calls``."""

    def __init__(
        self,
        name: str,
        calls: int,
        jobs: BotJobs,
        nodes: dict[str, AriClient],
        answerer: Callable[[str | None], tuple[OnAnswer, CampaignFeed | None]],
        on_call: Callable[[BotJob, ConversationRecord | str], None] = lambda job, reply: None,
    ) -> None:
        self.name = name
        self.calls = calls
        self.jobs = jobs
        self.nodes = nodes
        self.answerer = answerer
        self.on_call = on_call
        self.stop = asyncio.Event()
        self.stats = WorkerStats()
        self._slots = asyncio.Semaphore(calls)
        self._live: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        await self.jobs.join()
        beat = asyncio.create_task(self._heartbeat(), name=f"bot-heartbeat:{self.name}")
        try:
            await self._take_jobs()
            if self._live:
                await asyncio.wait(set(self._live))  # the calls up end first
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            with contextlib.suppress(redis.RedisError):
                await self.jobs.leave(self.name)

    async def _take_jobs(self) -> None:
        reclaim_at = 0.0
        while not self.stop.is_set():
            await self._slots.acquire()
            started = False
            try:
                delivery: Delivery | None = None
                if time.monotonic() >= reclaim_at:
                    reclaim_at = time.monotonic() + RECLAIM_EVERY_S
                    delivery = await self.jobs.reclaim(self.name)
                if delivery is None:
                    delivery = await self.jobs.read(self.name, READ_BLOCK_S)
                if delivery is None:
                    continue
                if await self.jobs.take(self.name, delivery) != "taken":
                    continue
                task = asyncio.create_task(self._carry(delivery.job), name=f"bot-call:{delivery.job.job_id}")
                self._live.add(task)
                task.add_done_callback(self._ended)
                started = True
            except (redis.RedisError, ServiceUnavailable) as exc:
                log.warning("job stream unavailable", extra=kv(worker=self.name, error=type(exc).__name__))
                await asyncio.sleep(REDIS_RETRY_S)
            finally:
                if not started:
                    self._slots.release()

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._live.discard(task)
        self._slots.release()

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self.jobs.beat(self.name, len(self._live))
            except redis.RedisError as exc:
                log.warning("heartbeat not written", extra=kv(worker=self.name, error=type(exc).__name__))
            await asyncio.sleep(HEARTBEAT_S)

    async def _carry(self, job: BotJob) -> None:
        reply: ConversationRecord | str
        try:
            reply = await self._converse(job)
            self.stats.carried += 1
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self.jobs.answer(job.job_id, "the bot worker stopped")
            raise
        except Exception as exc:
            self.stats.failed += 1
            reply = exc.one_line() if isinstance(exc, DuncallError) else type(exc).__name__
            log.error("call not carried", extra=kv(attempt_id=job.job_id, error=type(exc).__name__))
        try:
            await self.jobs.answer(job.job_id, reply)
        except redis.RedisError as exc:
            # The dialer sees no record: it stores the attempt answered, without its conversation.
            log.error("record not returned", extra=kv(attempt_id=job.job_id, error=type(exc).__name__))
        self.on_call(job, reply)

    async def _converse(self, job: BotJob) -> ConversationRecord:
        ari = self.nodes.get(job.ari_url.rstrip("/"))
        if ari is None:
            raise ServiceUnavailable(
                "the call is on an Asterisk node this worker does not know",
                "give the worker the dialers' DUNCALL_ASTERISK_NODES",
            )
        await move_here(ari, job.channel_id)
        on_answer, feed = self.answerer(job.campaign_id)
        if feed is not None:
            feed.following(job.target.account_id, job.job_id)
        call = AnsweredCall(job.channel_id, AnswerKind(job.kind), job.amd_status, time.monotonic(), ari)
        return await on_answer(job.target, call)


async def move_here(ari: AriClient, channel_id: str) -> None:
    """Move the debtor's channel into this worker's app and wait until it is there."""
    with ari.channel_events(channel_id) as events:
        await ari.move(channel_id, ari.app, (MOVED_ARG,))
        async with asyncio.timeout(MOVE_TIMEOUT_S):
            while True:
                ev = await events.get()
                if ev is None or isinstance(ev, ChannelDestroyed):
                    raise ServiceUnavailable("the call ended before the bot took it", "nothing to do")
                if isinstance(ev, StasisStart) and ev.channel.id == channel_id:
                    return


def node_clients(worker: str) -> dict[str, AriClient]:
    """An ARI client per Asterisk node (the dialers' ``DUNCALL_ASTERISK_NODES``, else the one ARI),
    each in the worker's own Stasis app, keyed by the node's ARI URL as jobs name it."""
    clients: dict[str, AriClient] = {}
    for node in settings.asterisk_nodes():
        app = f"{node.ari.app}-bot-{worker}"
        clients[node.ari.base_url.rstrip("/")] = AriClient(dataclasses.replace(node.ari, app=app))
    return clients


async def serve(
    *, name: str, calls: int, db_url: str | None = None, say: Callable[[str], None] = print
) -> WorkerStats:
    """Run a bot worker until SIGTERM or Ctrl-C; the calls up end first."""
    from bot.nlu.data import LANGS

    check_name(name)
    if calls < 1:
        raise InputError(f"--calls {calls} is below 1", "let the worker carry at least one call")
    nodes = node_clients(name)  # the configuration is checked before anything is opened
    engine = parts.store(db_url)
    sync_redis = services.redis_client()  # checked reachable: a one-line error otherwise
    client = parts.async_redis()
    try:
        for ari in nodes.values():
            await ari.connect()  # fail fast: a worker that cannot reach a node would lose its calls
        bot = await asyncio.to_thread(parts.bot)
        ready = await asyncio.to_thread(parts.ready_languages, set(LANGS), bot.recognizer, bot.classifier)
        for lang, why in sorted(ready.items()):
            say(f"{lang}: {'ready' if why is None else why}")
        primary = next(iter(nodes.values()))
        async with LivePublisher(sync_redis, live_prefix()) as publisher:
            answerers: dict[str | None, tuple[OnAnswer, CampaignFeed | None]] = {}

            def answerer(campaign_id: str | None) -> tuple[OnAnswer, CampaignFeed | None]:
                if campaign_id not in answerers:
                    feed = CampaignFeed(publisher, campaign_id) if campaign_id else None
                    answerers[campaign_id] = (
                        bot_answer(primary, engine, bot, feed, campaign_id=campaign_id),
                        feed,
                    )
                return answerers[campaign_id]

            def said(job: BotJob, reply: ConversationRecord | str) -> None:
                what = (
                    reply.disposition.value if isinstance(reply, ConversationRecord) else f"failed: {reply}"
                )
                say(f"call {job.job_id}: {what}")

            worker = BotWorker(name, calls, BotJobs(client, live_prefix()), nodes, answerer, said)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, worker.stop.set)
            cpu_start = time.process_time()
            say(f"bot worker {name}: up to {calls} calls, Stasis app {primary.app!r}")
            await worker.serve()
            worker.stats.cpu_s = time.process_time() - cpu_start
            say(
                f"stopped: {worker.stats.carried} calls carried, {worker.stats.failed} failed, "
                f"{worker.stats.cpu_s:.1f} s CPU"
            )
            return worker.stats
    finally:
        for ari in nodes.values():
            await ari.close()
        await client.aclose()
        engine.dispose()
