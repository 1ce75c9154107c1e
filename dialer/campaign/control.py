"""Campaign control: pause, resume, stop and the pacing limits of a running campaign.

The record is one Redis hash per campaign (``<live prefix>campaign:<id>:control``):
``state`` (running | paused | stopped | finished), ``concurrency`` (live calls at
once), ``cps`` (originates per second, 0 = no limit), who changed it last and when.
The console writes it; the dialer running the campaign (``CampaignControl``) reads
it every ``CONTROL_POLL_S`` and acts between dials:

- paused: nothing new is dialled; calls in progress go on to their end;
- stopped: nothing new is dialled, calls in progress end normally, then the run
  ends and reports the targets it did not dial;
- limits: a new concurrency admits (or holds back) the next dials at once; a new
  cps paces the next originate.

The dialer holds new dials by itself too, without touching the supervisor's
``state``: while Redis or the database is away (``dialer.campaign.outage``) the
record's ``held`` field says why (the board shows the campaign paused with that
reason), and it is cleared when the service is back; the hold lifts on its own.
A lost lease (``dialer.campaign.lease``) stops the run at once (``halt``).

Changes are compare-and-set in one Lua script, so two supervisors cannot, say,
resume a campaign the other just stopped.  Polling rather than pub/sub: a missed
message would leave a dialer dialling after "pause", a poll cannot miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any

import redis

from foundation.errors import DuncallError, InputError, ServiceUnavailable
from foundation.log import kv
from telephony.live import events

log = logging.getLogger(__name__)

CONTROL_POLL_S = 0.5  # how soon a running dialer sees a pause, a stop, new limits
DIALER_TTL_S = 5.0  # the dialer's "I am running this campaign" mark outlives a poll by far
MAX_CONCURRENCY = 500
MAX_CPS = 200


class RunState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"  # asked to stop: no new dials; the run ends when its calls have
    FINISHED = "finished"  # the run is over


# target state → the states it may be reached from (a supervisor's action)
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.PAUSED: frozenset({RunState.RUNNING}),
    RunState.RUNNING: frozenset({RunState.PAUSED}),
    RunState.STOPPED: frozenset({RunState.RUNNING, RunState.PAUSED}),
}
LIMITS_FROM = frozenset({RunState.RUNNING, RunState.PAUSED})

# KEYS[1] the record; ARGV[1] the states allowed now (",a,b,"), then field/value pairs.
# → {1, previous state} done; {0, current state or ""} refused.
_CHANGE_LUA = """
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {0, ''} end
if not string.find(ARGV[1], ',' .. cur .. ',', 1, true) then return {0, cur} end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return {1, cur}
"""


class ControlRefused(DuncallError):
    """The change does not apply to the campaign as it is now (no run, or already stopped)."""

    def __init__(self, what: str, fix: str, *, missing: bool) -> None:
        super().__init__(what, fix)
        self.missing = missing  # no control record at all: no run of this campaign was ever started


@dataclass(frozen=True, slots=True)
class Control:
    campaign: str
    state: RunState
    concurrency: int
    cps: int
    updated_at: str  # ISO 8601 UTC
    by: str  # a console user, or "dialer"
    dialer_running: bool = False  # a dialer process holds the campaign right now
    held: str = ""  # why the dialer itself holds new dials (a service away); empty: not held

    def public(self) -> dict[str, Any]:
        return asdict(self)


def control_key(prefix: str, campaign: str) -> str:
    return f"{prefix}campaign:{campaign}:control"


def index_key(prefix: str) -> str:
    """The set of campaigns with a control record (read instead of scanning the keyspace)."""
    return f"{prefix}campaigns"


def dialer_key(prefix: str, campaign: str) -> str:
    return f"{prefix}campaign:{campaign}:dialer"


def check_limits(concurrency: int, cps: int) -> None:
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InputError(
            f"concurrency {concurrency} is out of range", f"choose 1 to {MAX_CONCURRENCY} live calls"
        )
    if not 0 <= cps <= MAX_CPS:
        raise InputError(f"calls per second {cps} is out of range", f"choose 0 (no limit) to {MAX_CPS}")


def _unavailable(exc: redis.RedisError) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"Redis is unavailable for campaign control ({type(exc).__name__})",
        "check redis-server (DUNCALL_REDIS_URL); retrying helps once it is back",
    )


def _decode(campaign: str, raw: dict[Any, Any], running: bool) -> Control | None:
    d = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
    try:
        return Control(
            campaign,
            RunState(d["state"]),
            int(d["concurrency"]),
            int(d["cps"]),
            d["updated_at"],
            d["by"],
            running,
            d.get("held", ""),
        )
    except (KeyError, ValueError):
        return None


def read_control(client: redis.Redis, prefix: str, campaign: str) -> Control | None:
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hgetall(control_key(prefix, campaign))
        pipe.exists(dialer_key(prefix, campaign))
        raw, running = pipe.execute()
    except redis.RedisError as exc:
        raise _unavailable(exc) from None
    return _decode(campaign, raw, bool(running)) if raw else None


def list_controls(client: redis.Redis, prefix: str) -> list[Control]:
    """Every campaign with a control record, by name."""
    try:
        names = sorted(n.decode() for n in client.smembers(index_key(prefix)))  # type: ignore[union-attr]  # bytes from a sync client
    except redis.RedisError as exc:
        raise _unavailable(exc) from None
    out = []
    for campaign in names:
        control = read_control(client, prefix, campaign)
        if control is not None:
            out.append(control)
    return out


def _change(
    client: redis.Redis, prefix: str, campaign: str, allowed: frozenset[RunState], fields: dict[str, str]
) -> tuple[bool, str]:
    script = client.register_script(_CHANGE_LUA)
    allowed_arg = "," + ",".join(sorted(s.value for s in allowed)) + ","
    args = [allowed_arg] + [x for kv_ in fields.items() for x in kv_]
    try:
        done, state = script(keys=[control_key(prefix, campaign)], args=args)
    except redis.RedisError as exc:
        raise _unavailable(exc) from None
    return bool(done), state.decode() if isinstance(state, bytes) else str(state)


def _refused(campaign: str, current: str, action: str) -> ControlRefused:
    if not current:
        return ControlRefused(
            f"campaign {campaign!r} has never been run", "start it with `duncall campaign run`", missing=True
        )
    return ControlRefused(
        f"campaign {campaign!r} is {current}: it cannot be {action}",
        "start a new run with `duncall campaign run`"
        if current in ("stopped", "finished")
        else "reload the board",
        missing=False,
    )


def set_state(
    client: redis.Redis, prefix: str, campaign: str, state: RunState, by: str, at: dt.datetime
) -> Control:
    """A supervisor's pause, resume (→ running) or stop; refused unless the current state allows it."""
    allowed = TRANSITIONS.get(state)
    if allowed is None:
        raise InputError(f"a campaign cannot be set to {state.value}", "pause, resume or stop it")
    done, current = _change(
        client, prefix, campaign, allowed, {"state": state.value, "by": by, "updated_at": at.isoformat()}
    )
    if not done:
        raise _refused(
            campaign, current, {"running": "resumed", "paused": "paused"}.get(state.value, state.value)
        )
    control = read_control(client, prefix, campaign)
    assert control is not None
    return control


def set_limits(
    client: redis.Redis, prefix: str, campaign: str, concurrency: int, cps: int, by: str, at: dt.datetime
) -> Control:
    check_limits(concurrency, cps)
    fields = {"concurrency": str(concurrency), "cps": str(cps), "by": by, "updated_at": at.isoformat()}
    done, current = _change(client, prefix, campaign, LIMITS_FROM, fields)
    if not done:
        raise _refused(campaign, current, "given new limits")
    control = read_control(client, prefix, campaign)
    assert control is not None
    return control


def start_run(
    client: redis.Redis, prefix: str, campaign: str, concurrency: int, cps: int, at: dt.datetime
) -> None:
    """A new run starts running with the limits it was started with (its command line)."""
    fields = {
        "state": RunState.RUNNING.value,
        "concurrency": str(concurrency),
        "cps": str(cps),
        "by": "dialer",
        "updated_at": at.isoformat(),
        "held": "",
    }
    try:
        pipe = client.pipeline(transaction=True)
        pipe.hset(control_key(prefix, campaign), mapping=fields)  # type: ignore[arg-type]  # redis-py's mapping type is too narrow
        pipe.sadd(index_key(prefix), campaign)
        pipe.execute()
    except redis.RedisError as exc:
        raise _unavailable(exc) from None


def end_run(client: redis.Redis, prefix: str, campaign: str, at: dt.datetime) -> None:
    with contextlib.suppress(redis.RedisError):
        pipe = client.pipeline(transaction=True)
        pipe.hset(
            control_key(prefix, campaign),
            mapping={"state": RunState.FINISHED.value, "updated_at": at.isoformat()},
        )
        pipe.delete(dialer_key(prefix, campaign))
        pipe.execute()


class CampaignControl:
    """The running dialer's side: follows the record and admits each dial (the runner's ``Admission``).

    Entered around the run: marks the campaign running with the run's limits, follows
    the record in a named task, and marks it finished on the way out.
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        campaign: str,
        *,
        concurrency: int,
        cps: int,
        poll_s: float = CONTROL_POLL_S,
        on_change: Callable[[Control], None] | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        check_limits(concurrency, cps)
        self.client = client
        self.prefix = prefix
        self.campaign = campaign
        self.state = RunState.RUNNING
        self.concurrency = concurrency
        self.cps = cps
        self.poll_s = poll_s
        self.on_change = on_change
        self.clock = clock
        self.held = ""  # why the dialer holds new dials itself (a service away); "" when not
        self.halted = False  # the lease is lost: the record is no longer this run's to write
        self.live = 0  # dials admitted and not yet over
        self.peak = 0  # the most live at once (reported by tests and the summary)
        self._cond = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CampaignControl:
        await asyncio.to_thread(
            start_run, self.client, self.prefix, self.campaign, self.concurrency, self.cps, self.clock()
        )
        await self._beat()
        self._task = asyncio.create_task(self._follow(), name=f"campaign-control:{self.campaign}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self.halted:
            return  # another dialer may own the campaign now: its record is not ours to finish
        await asyncio.to_thread(end_run, self.client, self.prefix, self.campaign, self.clock())

    @property
    def stopped(self) -> bool:
        return self.state is RunState.STOPPED

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """Wait until this dial may go (running, under the live-call limit); False once stopped."""
        async with self._cond:
            await self._cond.wait_for(
                lambda: (
                    self.state is RunState.STOPPED
                    or (self.state is RunState.RUNNING and not self.held and self.live < self.concurrency)
                )
            )
            admitted = self.state is not RunState.STOPPED
            if admitted:
                self.live += 1
                self.peak = max(self.peak, self.live)
        try:
            yield admitted
        finally:
            if admitted:
                async with self._cond:
                    self.live -= 1
                    self._cond.notify_all()

    async def hold(self, reason: str) -> None:
        """Hold new dials (a service the guard needs is away); calls in progress go on."""
        async with self._cond:
            self.held = reason or "a service is unavailable"
        log.warning("campaign held", extra=kv(campaign=self.campaign))
        await self._show_held()

    async def unhold(self) -> None:
        """The service is back: admit dials again (unless a supervisor paused or stopped the run)."""
        async with self._cond:
            self.held = ""
            self._cond.notify_all()
        log.info("campaign hold lifted", extra=kv(campaign=self.campaign))
        await self._show_held()

    async def halt(self, reason: str) -> None:
        """Stop admitting dials at once, for good (the lease is lost); calls in progress finish."""
        async with self._cond:
            self.state = RunState.STOPPED
            self.held = reason
            self.halted = True
            self._cond.notify_all()
        log.error("campaign halted", extra=kv(campaign=self.campaign, reason=reason))

    async def _show_held(self) -> None:
        """Best effort: the record and the live board show the hold (Redis may be what is away)."""
        held = self.held
        try:
            await asyncio.to_thread(self._write_held, held)
        except (redis.RedisError, ServiceUnavailable):
            return  # the next poll writes it once Redis answers

    def _write_held(self, held: str) -> None:
        at = self.clock()
        self.client.hset(control_key(self.prefix, self.campaign), "held", held)
        control = read_control(self.client, self.prefix, self.campaign)
        if control is not None:
            events.append(self.client, self.prefix, [events.control(self.campaign, at, control.public())])

    async def _beat(self) -> None:
        with contextlib.suppress(redis.RedisError):
            await asyncio.to_thread(
                self.client.set, dialer_key(self.prefix, self.campaign), "1", px=int(DIALER_TTL_S * 1000)
            )

    async def _follow(self) -> None:
        while not self.halted:
            await asyncio.sleep(self.poll_s)
            if self.halted:
                return
            await self._beat()
            try:
                control = await asyncio.to_thread(read_control, self.client, self.prefix, self.campaign)
            except ServiceUnavailable:
                # Keep the last known state; the guard refuses dials while Redis is away anyway.
                log.warning("campaign control unreadable", extra=kv(campaign=self.campaign))
                continue
            if control is not None:
                if control.held != self.held and self.state is not RunState.STOPPED:
                    await self._show_held()  # written while Redis was away, or by an older run
                await self.apply(control)

    async def apply(self, control: Control) -> None:
        if control.state is RunState.FINISHED:
            return  # another run's end (this one holds the lease, so not ours): ignore
        changed = (control.state, control.concurrency, control.cps) != (
            self.state,
            self.concurrency,
            self.cps,
        )
        if not changed:
            return
        if self.state is RunState.STOPPED and control.state is not RunState.STOPPED:
            return  # a stop is final for this run
        log.info(
            "campaign control changed",
            extra=kv(
                campaign=self.campaign,
                state=control.state.value,
                concurrency=control.concurrency,
                cps=control.cps,
                by=control.by,
            ),
        )
        async with self._cond:
            self.state = control.state
            self.concurrency = control.concurrency
            self.cps = control.cps
            self._cond.notify_all()
        if self.on_change is not None:
            self.on_change(control)
