"""The dial-time guard: policy + atomic Redis check-and-reserve + durable ledger.

``Guard.reserve`` is what a dialer calls immediately before every originate.  The
order of its steps is what makes a dial the rules would deny impossible:

1. the static rules (flags, time zone, holiday, window, consent) are evaluated in
   Python — pure policy, no I/O;
2. one EVALSHA checks every frequency rule and, only if nothing denies, reserves
   the attempt in the same atomic step; two dialers racing for the last slot
   cannot both win;
3. the decision (allowed or denied, with every reason) is committed to the
   ledger; if that fails the reservation is released and nothing is dialled;
4. the counters' epoch is read again: if Redis lost its data between steps 2 and
   3, a rebuild may have missed this reservation, so the dial is refused
   (``CountersReset``, retryable) and the ledger marks the reservation withdrawn.
   An epoch still equal to step 2's proves any later rebuild starts after the
   commit and therefore counts it.

A crash between 2 and 3 leaves a reservation in Redis that the ledger lacks: it
was never dialled and only makes the counters stricter until it ages out.  A
crash after 3 leaves an allowed decision that may not have been dialled: counted
as an attempt, again the strict side.  (So is a withdrawal that could not be
written: the ledger then over-counts, never under-counts.)

Redis losing its data is detected by the missing epoch key (written last by a
rebuild); the script then refuses to decide, and the first dialer to take the
rebuild lock reloads every counter from the ledger while the others wait.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis

from dialer.guards.counters import (
    CHECK_AND_RESERVE_LUA,
    RELEASE_LUA,
    STATUS_DENIED,
    STATUS_RESERVED,
    UNLOCK_LUA,
    Keys,
    attempt_args,
    keep_for,
    parse_reply,
    rule_args,
    text,
    to_us,
)
from dialer.guards.ledger import DecisionEntry, Ledger, OutcomeEntry
from dialer.policy import DEFAULT_RULES, Decision, DialRequest, Rules, static_reasons
from dialer.policy.zones import normalize
from foundation.contract import DialTarget
from foundation.errors import ComplianceDenied, ServiceUnavailable
from foundation.log import kv

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "duncall:guard:"
REBUILD_LOCK_MS = 60_000
REBUILD_WAIT_S = 60.0
REBUILD_POLL_S = 0.02
MAX_EPOCH_RETRIES = 3
REBUILD_PIPELINE_CHUNK = 1000
SCRIPT_BATCH = 200  # attempts per EVALSHA; a longer script would block Redis for others
STATUS_NO_EPOCH = -1  # not decided yet: the counters had no epoch


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CountersReset(ServiceUnavailable):
    """Redis lost its counters while this dial was being reserved; retry the reservation."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """A guard decision; when ``allowed`` it is a durable reservation of one attempt."""

    attempt_id: str
    account_id: str
    phone: str  # E.164
    at: dt.datetime
    decision: Decision

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.decision.reasons


@dataclass
class _Pending:
    target: DialTarget
    attempt_id: str
    phone: str
    at: dt.datetime
    static: list[str]
    status: int = STATUS_NO_EPOCH
    epoch: str | None = None
    counter_reasons: list[str] = field(default_factory=list)


class Guard:
    """Dial-time compliance guard shared by every dialer process through Redis and the ledger."""

    def __init__(
        self,
        client: redis.Redis,
        ledger: Ledger,
        rules: Rules = DEFAULT_RULES,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.redis = client
        self.ledger = ledger
        self.rules = rules
        self.keys = Keys(prefix)
        self.clock = clock
        self._check = client.register_script(CHECK_AND_RESERVE_LUA)
        self._release = client.register_script(RELEASE_LUA)
        self._unlock = client.register_script(UNLOCK_LUA)

    # -- deciding -------------------------------------------------------------------------

    def reserve(self, target: DialTarget, attempt_id: str | None = None) -> Reservation:
        """Decide ``target`` now; when allowed, the attempt is reserved and durably recorded."""
        return self.reserve_many([target], [attempt_id] if attempt_id else None)[0]

    def require(self, target: DialTarget, attempt_id: str | None = None) -> Reservation:
        """Like ``reserve``, but a denial raises ``ComplianceDenied`` (no ``except Exception`` catches it)."""
        reservation = self.reserve(target, attempt_id)
        if not reservation.allowed:
            raise ComplianceDenied(list(reservation.reasons))
        return reservation

    def reserve_many(
        self, targets: Sequence[DialTarget], attempt_ids: Sequence[str] | None = None
    ) -> list[Reservation]:
        """Decide several dials with one pipelined round trip and one ledger transaction.

        Targets are decided in order, so two targets of the same account in one batch see each other.
        """
        ids = list(attempt_ids) if attempt_ids is not None else [str(uuid.uuid4()) for _ in targets]
        if len(ids) != len(targets):
            raise ValueError("attempt_ids must match targets one to one")
        pending = []
        for target, attempt_id in zip(targets, ids, strict=True):
            at = self.clock()
            phone = normalize(target.number)
            request = DialRequest(
                phone=phone,
                at=at,
                timezone=target.timezone,
                flags=target.flags,
                voice=target.voice,
                consent=target.consent,
                phone_status=target.phone_status,
                suppressed=target.suppressed,
            )
            pending.append(_Pending(target, attempt_id, phone, at, static_reasons(request, self.rules)))
        self._run_script(pending)
        reserved = [p for p in pending if p.status == STATUS_RESERVED]
        entries = [
            DecisionEntry(
                attempt_id=p.attempt_id,
                account_id=p.target.account_id,
                campaign_id=p.target.campaign_id,
                phone=p.phone,
                at=p.at,
                allowed=p.status == STATUS_RESERVED,
                reasons=tuple(p.static + p.counter_reasons),
                rules=self.rules.name,
                epoch=p.epoch if p.status == STATUS_RESERVED else None,
            )
            for p in pending
        ]
        try:
            self.ledger.append_decisions(entries)
        except BaseException:
            # Not durable, so not dialled: give the slots back (best effort — a leftover only makes
            # the counters stricter until it ages out).
            self._release_all(reserved)
            raise
        if reserved:
            self._confirm_epoch(reserved)
        out = [
            Reservation(e.attempt_id, e.account_id, e.phone, e.at, Decision(e.allowed, e.reasons))
            for e in entries
        ]
        for r in out:
            log.debug(
                "guard decision",
                extra=kv(attempt_id=r.attempt_id, allowed=r.allowed, reasons=",".join(r.reasons)),
            )
        return out

    def _run_script(self, pending: list[_Pending]) -> None:
        todo = list(pending)
        for _ in range(MAX_EPOCH_RETRIES):
            chunks = [todo[i : i + SCRIPT_BATCH] for i in range(0, len(todo), SCRIPT_BATCH)]
            try:
                pipe = self.redis.pipeline(transaction=False)
                for chunk in chunks:
                    keys = [self.keys.epoch]
                    args = rule_args(self.rules.frequency)
                    for p in chunk:
                        keys += self.keys.for_attempt(p.target.account_id, p.phone)
                        args += attempt_args(
                            self.rules.frequency,
                            at=p.at,
                            attempt_id=p.attempt_id,
                            reserve=not p.static,
                            phone=p.phone,
                            timezone=p.target.timezone,
                        )
                    self._check(keys=keys, args=args, client=pipe)
                replies = pipe.execute()
            except redis.RedisError as exc:
                raise redis_unavailable(self.redis, exc) from None
            for chunk, reply in zip(chunks, replies, strict=True):
                parsed = parse_reply(reply, len(chunk))
                if parsed is None:
                    continue
                epoch, verdicts = parsed
                for p, verdict in zip(chunk, verdicts, strict=True):
                    p.status = STATUS_RESERVED if verdict.reserved else STATUS_DENIED
                    p.epoch = epoch
                    p.counter_reasons = verdict.reasons
            todo = [p for p in todo if p.status == STATUS_NO_EPOCH]
            if not todo:
                return
            self.rebuild()
        raise CountersReset(
            "the guard counters in Redis keep disappearing",
            "check Redis memory (maxmemory-policy must be noeviction) and who flushes it",
        )

    def _confirm_epoch(self, reserved: list[_Pending]) -> None:
        try:
            current = self.redis.get(self.keys.epoch)
        except redis.RedisError as exc:
            raise redis_unavailable(self.redis, exc) from None
        current_text = text(current) if current is not None else None
        if any(p.epoch != current_text for p in reserved):
            self._withdraw(reserved)
            raise CountersReset(
                "Redis lost the guard counters while these dials were being reserved; nothing was dialled",
                "retry: the counters are rebuilt from the ledger first",
                retryable=True,
            )

    def _withdraw(self, reserved: list[_Pending]) -> None:
        """Mark durable reservations as never dialled, then give their slots back.

        If this fails the ledger keeps them as attempts, which only makes later counts stricter.
        """
        try:
            now = self.clock()
            self.ledger.append_outcomes([OutcomeEntry(p.attempt_id, now, withdrawn=True) for p in reserved])
        except ServiceUnavailable:
            log.warning("could not mark reservations withdrawn after a counter reset", exc_info=True)
            return
        self._release_all(reserved)

    def _release_all(self, reserved: list[_Pending]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for p in reserved:
                keys = [self.keys.account(p.target.account_id, "att"), self.keys.phone(p.phone, "att")]
                self._release(keys=keys, args=[p.attempt_id], client=pipe)
            pipe.execute()
        except redis.RedisError:
            log.warning("could not release guard reservations after a ledger failure", exc_info=True)

    # -- outcomes -------------------------------------------------------------------------

    def withdraw(self, reservation: Reservation) -> None:
        """A reserved attempt that never reached the network (Asterisk refused the originate).

        The ledger keeps the allowing decision and marks it withdrawn, then the counters give the
        slot back: a ledger write that fails leaves it counted (the strict side), and a rebuild
        skips withdrawn attempts, so the counters and the ledger agree either way.
        """
        if not reservation.allowed:
            return
        pending = _Pending(
            DialTarget(account_id=reservation.account_id, number=reservation.phone, endpoint=""),
            reservation.attempt_id,
            reservation.phone,
            reservation.at,
            [],
        )
        self.ledger.append_outcome(OutcomeEntry(reservation.attempt_id, self.clock(), withdrawn=True))
        self._release_all([pending])

    def record_outcome(
        self,
        reservation: Reservation,
        *,
        conversation: bool = False,
        connected: bool = False,
        abandoned: bool = False,
    ) -> None:
        """Feed what happened on a reserved attempt back into the counters and the ledger.

        Redis first: if the process dies before the ledger write, the counters are still strict
        now, and only a later loss of Redis's data could forget it.
        """
        if not reservation.allowed or not (conversation or connected or abandoned):
            return
        score = to_us(reservation.at)
        redis_error: redis.RedisError | None = None
        try:
            pipe = self.redis.pipeline(transaction=False)
            if conversation:
                pipe.zadd(self.keys.account(reservation.account_id, "conv"), {reservation.attempt_id: score})
            if connected:
                pipe.zadd(self.keys.account(reservation.account_id, "conn"), {reservation.attempt_id: score})
            if abandoned:
                pipe.zadd(self.keys.phone(reservation.phone, "abn"), {reservation.attempt_id: score})
            keep_ms = keep_for(self.rules.frequency) // dt.timedelta(milliseconds=1)
            for kind in ("conv", "conn"):
                pipe.pexpire(self.keys.account(reservation.account_id, kind), keep_ms)
            pipe.pexpire(self.keys.phone(reservation.phone, "abn"), keep_ms)
            pipe.execute()
        except redis.RedisError as exc:
            redis_error = exc
        self.ledger.append_outcome(
            OutcomeEntry(reservation.attempt_id, self.clock(), conversation, connected, abandoned)
        )
        if redis_error is not None:
            raise ServiceUnavailable(
                f"the outcome was written to the ledger but not to Redis ({redis_error})",
                "run `duncall guard rebuild` once Redis is back, before dialling again",
            )

    # -- rebuilding -----------------------------------------------------------------------

    def counters_ready(self) -> bool:
        try:
            return bool(self.redis.exists(self.keys.epoch))
        except redis.RedisError as exc:
            raise redis_unavailable(self.redis, exc) from None

    def invalidate(self) -> None:
        """Forget the epoch, so the next decision rebuilds every counter from the ledger."""
        try:
            self.redis.delete(self.keys.epoch)
        except redis.RedisError as exc:
            raise redis_unavailable(self.redis, exc) from None

    def rebuild(self) -> int:
        """Reload the counters from the ledger unless another process is already doing it.

        Returns how many attempts this process loaded (0 when another process rebuilt).
        """
        token = uuid.uuid4().hex
        try:
            if not self.redis.set(self.keys.rebuild_lock, token, nx=True, px=REBUILD_LOCK_MS):
                self._wait_for_epoch()
                return 0
            try:
                if self.redis.exists(self.keys.epoch):
                    return 0
                return self._load_from_ledger()
            finally:
                self._unlock(keys=[self.keys.rebuild_lock], args=[token])
        except redis.RedisError as exc:
            raise redis_unavailable(self.redis, exc) from None

    def _load_from_ledger(self) -> int:
        keep = keep_for(self.rules.frequency)
        keep_ms = keep // dt.timedelta(milliseconds=1)
        attempts = self.ledger.attempts_since(self.clock() - keep)
        touched: set[str] = set()
        for start in range(0, len(attempts), REBUILD_PIPELINE_CHUNK):
            pipe = self.redis.pipeline(transaction=False)
            for a in attempts[start : start + REBUILD_PIPELINE_CHUNK]:
                score = to_us(a.at)
                keys = [self.keys.account(a.account_id, "att"), self.keys.phone(a.phone, "att")]
                if a.conversation:
                    keys.append(self.keys.account(a.account_id, "conv"))
                if a.connected:
                    keys.append(self.keys.account(a.account_id, "conn"))
                if a.abandoned:
                    keys.append(self.keys.phone(a.phone, "abn"))
                for key in keys:
                    pipe.zadd(key, {a.attempt_id: score})
                    if key not in touched:
                        touched.add(key)
                        pipe.pexpire(key, keep_ms)
            pipe.execute()
        # Written last: its presence is the promise that every counter above is in place.
        self.redis.set(self.keys.epoch, uuid.uuid4().hex)
        log.warning("guard counters rebuilt from the ledger", extra=kv(attempts=len(attempts)))
        return len(attempts)

    def _wait_for_epoch(self) -> None:
        deadline = time.monotonic() + REBUILD_WAIT_S
        while time.monotonic() < deadline:
            if self.redis.exists(self.keys.epoch):
                return
            if not self.redis.exists(self.keys.rebuild_lock):
                return  # the rebuilder gave up or died; the caller retries and may rebuild itself
            time.sleep(REBUILD_POLL_S)
        raise CountersReset(
            "another dialer has been rebuilding the guard counters for too long",
            "check that dialer's logs and the ledger database",
        )


def redis_unavailable(client: redis.Redis, exc: redis.RedisError) -> ServiceUnavailable:
    kwargs = client.connection_pool.connection_kwargs
    where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
    return ServiceUnavailable(
        f"Redis at {where} failed during a guard decision ({exc}); nothing was dialled",
        "start Redis or check DUNCALL_REDIS_URL",
    )
