"""Answered calls handed from dialers to bot workers through Redis.

One stream of jobs (``<live prefix>bot:jobs``) read by one consumer group (``bot``), each bot
worker a consumer.  Who carries a call is settled by one key per job, set once:

- a worker that reads a job *takes* it (``TAKE_LUA``: set ``taken:<worker>`` only if the key is
  unset and the job's take deadline has not passed, by Redis's own clock, then ack and delete
  the entry — the debtor's number does not stay in the stream);
- a dialer whose job nobody took in time *abandons* it (``SET … NX``: ``abandoned``), plays the
  abandon message and hangs up.

Exactly one of the two wins, so a call is never carried twice nor by a worker after the dialer
gave up on it.  A worker that read a job and died before taking it leaves the entry pending:
another worker claims it (``XAUTOCLAIM``) and runs the same take, which refuses a job already
taken, abandoned, or past its deadline.  A worker that died *with* a call is noticed by the
dialer, not by the other workers: every worker refreshes a heartbeat key while it runs, and
the dialer of a taken job whose worker's heartbeat expired ends the call as lost.

The worker answers on a list per job (``bot:reply:<job>``): the conversation record, or the
error that ended the call, as JSON (``foundation.wire``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis

from foundation.contract import ConversationRecord, DialTarget
from foundation.errors import ServiceUnavailable
from foundation.log import kv
from foundation.wire import record_from_json, record_json, target_from_json, target_json

log = logging.getLogger(__name__)

GROUP = "bot"
TAKE_S = 2.0  # the abandon clock: a person answered and nobody speaks to them after this
STREAM_MAXLEN = 10_000  # jobs nobody read (no worker running); trimmed approximately
STATE_TTL_S = 2 * 3600  # longer than any call (dialer.call.MAX_CALL_S)
REPLY_TTL_S = 300  # a reply the dialer never read (it died) goes away by itself
HEARTBEAT_S = 1.0  # how often a worker says it is alive
HEARTBEAT_TTL_S = 5.0  # a worker silent this long is taken for dead, its calls for lost
RECLAIM_IDLE_S = 1.0  # a job read this long ago and still pending: its reader died before taking it
JOB_FIELD = b"j"
DEADLINE_FIELD = b"d"

# KEYS: stream; ARGV: job JSON, take window (ms), maxlen → the entry id.  The deadline is Redis's
# clock plus the window, so the workers' and dialers' clocks never have to agree.
SUBMIT_LUA = """
local now = redis.call('TIME')
local deadline = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'j', ARGV[1], 'd', tostring(deadline))
"""

# KEYS: the job's state key, the stream; ARGV: group, entry id, worker, deadline (ms), state TTL (ms)
# → "taken" (this worker carries it), else what stops it: "taken:<other>", "abandoned", "late".
TAKE_LUA = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local state = redis.call('GET', KEYS[1])
local answer
if state then
  answer = state
elseif now_ms > tonumber(ARGV[4]) then
  answer = 'late'
else
  redis.call('SET', KEYS[1], 'taken:' .. ARGV[3], 'PX', ARGV[5])
  answer = 'taken'
end
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
return answer
"""


@dataclass(frozen=True, slots=True)
class BotJob:
    """One answered call for a bot worker: where it is, what to say, how it was answered."""

    job_id: str  # the attempt id: one job per answered attempt
    channel_id: str
    ari_url: str  # the ARI of the node the call is on
    target: DialTarget
    kind: str  # AnswerKind: human | machine
    amd_status: str
    campaign_id: str | None

    def encode(self) -> str:
        return json.dumps(
            {
                "job_id": self.job_id,
                "channel_id": self.channel_id,
                "ari_url": self.ari_url,
                "target": target_json(self.target),
                "kind": self.kind,
                "amd_status": self.amd_status,
                "campaign_id": self.campaign_id,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> BotJob:
        data = json.loads(raw)
        return cls(
            data["job_id"],
            data["channel_id"],
            data["ari_url"],
            target_from_json(data["target"]),
            data["kind"],
            data["amd_status"],
            data.get("campaign_id"),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """A job as a worker read it from the stream (not yet taken)."""

    entry_id: str
    job: BotJob
    deadline_ms: int


Reply = ConversationRecord | str  # the record, or why the call ended without one


def _unavailable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(f"Redis: {type(exc).__name__}", "check that Redis runs (DUNCALL_REDIS_URL)")


class BotJobs:
    """The job stream under ``prefix`` (the live prefix), for either side."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.stream = f"{prefix}bot:jobs"
        self._submit = client.register_script(SUBMIT_LUA)
        self._take = client.register_script(TAKE_LUA)

    def state_key(self, job_id: str) -> str:
        return f"{self.prefix}bot:job:{job_id}"

    def reply_key(self, job_id: str) -> str:
        return f"{self.prefix}bot:reply:{job_id}"

    def worker_key(self, worker: str) -> str:
        return f"{self.prefix}bot:worker:{worker}"

    # --- the dialer's side ------------------------------------------------------------------

    async def submit(self, job: BotJob, take_s: float = TAKE_S) -> None:
        try:
            await self._submit(keys=[self.stream], args=[job.encode(), int(take_s * 1000), STREAM_MAXLEN])
        except redis.RedisError as exc:
            raise _unavailable(exc) from None

    async def state(self, job_id: str) -> str | None:
        """``taken:<worker>``, ``abandoned``, or None while nobody decided."""
        raw = await self.client.get(self.state_key(job_id))
        return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)

    async def abandon(self, job_id: str) -> bool:
        """True when this dialer gave the job up before any worker took it (no worker ever will)."""
        return bool(
            await self.client.set(self.state_key(job_id), "abandoned", nx=True, px=int(STATE_TTL_S * 1000))
        )

    async def worker_alive(self, worker: str) -> bool:
        return bool(await self.client.exists(self.worker_key(worker)))

    async def reply(self, job_id: str, timeout_s: float) -> Reply | None:
        """The worker's answer, waiting up to ``timeout_s``; None if it has not come yet."""
        got = await self.client.blpop([self.reply_key(job_id)], timeout=timeout_s)
        if got is None:
            return None
        data = json.loads(got[1])
        if "error" in data:
            return str(data["error"])
        return record_from_json(data["record"])

    async def forget(self, job_id: str) -> None:
        await self.client.delete(self.reply_key(job_id))

    # --- the worker's side ------------------------------------------------------------------

    async def join(self) -> None:
        """Create the consumer group (and the stream) if no worker did yet."""
        try:
            await self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, worker: str, block_s: float) -> Delivery | None:
        """The next job no worker has read, waiting up to ``block_s``."""
        got: Any = await self.client.xreadgroup(
            GROUP, worker, {self.stream: ">"}, count=1, block=max(1, int(block_s * 1000))
        )
        for _stream, entries in got or ():
            for entry_id, fields in entries:
                return self._delivery(entry_id, fields)
        return None

    async def reclaim(self, worker: str) -> Delivery | None:
        """A job another worker read and never took (it died in between), if there is one."""
        got: Any = await self.client.xautoclaim(
            self.stream, GROUP, worker, min_idle_time=int(RECLAIM_IDLE_S * 1000), start_id="0-0", count=1
        )
        for entry_id, fields in got[1] or ():
            if fields:  # an entry deleted meanwhile comes back without its fields
                return self._delivery(entry_id, fields)
            await self.client.xack(self.stream, GROUP, entry_id)
        return None

    def _delivery(self, entry_id: bytes | str, fields: dict[Any, Any]) -> Delivery:
        eid = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        return Delivery(eid, BotJob.decode(fields[JOB_FIELD]), int(fields[DEADLINE_FIELD]))

    async def take(self, worker: str, delivery: Delivery) -> str:
        """Carry the job (``"taken"``) or not (what stopped it); the entry is acked either way."""
        raw = await self._take(
            keys=[self.state_key(delivery.job.job_id), self.stream],
            args=[GROUP, delivery.entry_id, worker, delivery.deadline_ms, int(STATE_TTL_S * 1000)],
        )
        answer = raw.decode() if isinstance(raw, bytes) else str(raw)
        if answer != "taken":
            log.info("job not taken", extra=kv(job_id=delivery.job.job_id, worker=worker, why=answer))
        return answer

    async def answer(self, job_id: str, reply: Reply) -> None:
        body = {"record": record_json(reply)} if isinstance(reply, ConversationRecord) else {"error": reply}
        key = self.reply_key(job_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(body))
            pipe.expire(key, REPLY_TTL_S)
            await pipe.execute()

    async def beat(self, worker: str, calls: int) -> None:
        await self.client.set(self.worker_key(worker), str(calls), px=int(HEARTBEAT_TTL_S * 1000))

    async def leave(self, worker: str) -> None:
        """A worker stopping: its heartbeat goes at once, and it leaves the group."""
        await self.client.delete(self.worker_key(worker))
        try:
            await self.client.xgroup_delconsumer(self.stream, GROUP, worker)
        except redis.ResponseError:
            pass  # the group went away (Redis flushed): nothing to leave
