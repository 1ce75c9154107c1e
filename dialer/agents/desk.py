"""Collectors at their desks (the console's desk page) as the agents of a campaign.

A desk's state lives in Redis, shared by the console (the collector goes ready, pauses with a
reason, submits a wrap-up) and the dialer process running the campaign (which claims the
longest-ready desk for an answered call, rings its softphone, and waits for the wrap-up):

    offline ──ready──▶ ready ──claim──▶ connecting ──connected──▶ on_call ──release──▶ wrap_up
              ▲  ▲       │ ▲                │                                            │
              │  └pause──┘ └─ready─ paused ◀┘unreachable (reason no_answer)             │
              └──────────────── wrap-up submitted: ready or paused ◀────────────────────┘

The wrap-up (disposition, promise, callback, note) goes from the console to the campaign on a
per-attempt list; the campaign writes it with the attempt's end, in one transaction, through
the same account-state code a bot call's result uses (``dialer.accounts.state``).

The Redis calls are single round trips on the loopback (well under a millisecond), made from
the campaign's event loop like the in-process pool's calls; the wait for a wrap-up runs in a
thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import redis

from dialer.agents.pool import AgentSpec
from foundation.contract import (
    AccountFlag,
    ConversationRecord,
    Disposition,
    InstallmentPlanRecord,
    InstalmentRecord,
)
from foundation.errors import InputError

WRAP_UP_WAIT_S = 600.0  # how long a campaign waits for a collector's wrap-up before storing the call
WRAP_UP_KEEP_S = 3600  # a submitted wrap-up nobody collected is dropped after this
PAUSE_REASONS = ("break", "lunch", "meeting", "training", "technical", "no_answer")
# What a collector may record about a call they took (the rest are the dialer's own).
WRAP_UP_DISPOSITIONS = (
    Disposition.PROMISE_TO_PAY,
    Disposition.CALLBACK,
    Disposition.ALREADY_PAID,
    Disposition.REFUSED,
    Disposition.DISPUTE,
    Disposition.WRONG_NUMBER,
    Disposition.THIRD_PARTY,
    Disposition.STOP_CALLING,
    Disposition.ATTORNEY,
    Disposition.BANKRUPTCY,
    Disposition.NO_CONTACT,
)
NOTE_MAX = 1000
# Flags a collector may set on the account from a wrap-up (as a call's own flags: the guard
# reads them at every dial, so a cease, an attorney or a bankruptcy stops the calls).
WRAP_UP_FLAGS = tuple(AccountFlag)
PLAN_MAX_INSTALMENTS = 36
# A desk whose page has not polled for this long is not rung (a closed tab, a crashed browser):
# ringing a softphone that is gone would abandon the debtor it was claimed for.
SEEN_S = 5.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class DeskState(StrEnum):
    OFFLINE = "offline"
    READY = "ready"
    PAUSED = "paused"
    CONNECTING = "connecting"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


# What the collector may choose from each state (the dialer moves them along the call).
_BY_COLLECTOR: dict[DeskState, frozenset[DeskState]] = {
    DeskState.OFFLINE: frozenset({DeskState.READY, DeskState.PAUSED}),
    DeskState.READY: frozenset({DeskState.PAUSED, DeskState.OFFLINE, DeskState.READY}),
    DeskState.PAUSED: frozenset({DeskState.READY, DeskState.OFFLINE, DeskState.PAUSED}),
}


@dataclass(frozen=True, slots=True)
class Desk:
    collector_id: str
    state: DeskState
    since: float  # epoch seconds
    reason: str = ""
    attempt_id: str = ""
    account_id: str = ""
    connected_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "collector_id": self.collector_id,
            "state": self.state.value,
            "since": self.since,
            "reason": self.reason,
            "attempt_id": self.attempt_id or None,
            "account_id": self.account_id or None,
        }


@dataclass(frozen=True, slots=True)
class WrapUp:
    """What the collector recorded about a call they took."""

    disposition: Disposition
    promise_amount: Decimal | None = None
    promise_date: dt.date | None = None
    callback_on: dt.date | None = None
    note: str = ""
    plan: InstallmentPlanRecord | None = None  # an instalment plan the debtor agreed to
    flags: tuple[AccountFlag, ...] = ()

    def __post_init__(self) -> None:
        if self.disposition not in WRAP_UP_DISPOSITIONS:
            raise InputError(
                f"disposition {self.disposition.value!r} is not a collector's",
                f"choose one of {', '.join(d.value for d in WRAP_UP_DISPOSITIONS)}",
            )
        if (self.promise_amount is None) != (self.promise_date is None):
            raise InputError("a promise needs both an amount and a date", "give both, or neither")
        if self.promise_amount is not None and self.promise_amount <= 0:
            raise InputError(f"promise amount {self.promise_amount}", "give an amount above 0")
        if (
            self.disposition is Disposition.PROMISE_TO_PAY
            and self.promise_amount is None
            and self.plan is None
        ):
            raise InputError(
                "promise_to_pay without a promise or a plan", "give the amount and date promised, or a plan"
            )
        if self.plan is not None:
            items = self.plan.instalments
            if not 1 <= len(items) <= PLAN_MAX_INSTALMENTS:
                raise InputError(
                    f"a plan of {len(items)} instalments", f"give 1 to {PLAN_MAX_INSTALMENTS} instalments"
                )
            if any(i.amount <= 0 for i in items) or sum(i.amount for i in items) != self.plan.total:
                raise InputError("the plan's instalments do not add up to its total", "give amounts above 0")
            if any(b.due <= a.due for a, b in itertools.pairwise(items)):
                raise InputError(
                    "the plan's due dates are not in order", "give one date per instalment, later each"
                )
        if self.disposition is Disposition.CALLBACK and self.callback_on is None:
            raise InputError("callback without a day", "give the day the debtor asked to be called")
        if len(self.note) > NOTE_MAX:
            raise InputError(f"the note is {len(self.note)} characters", f"keep it to {NOTE_MAX}")

    def to_json(self) -> str:
        return json.dumps(
            {
                "disposition": self.disposition.value,
                "promise_amount": str(self.promise_amount) if self.promise_amount is not None else None,
                "promise_date": self.promise_date.isoformat() if self.promise_date else None,
                "callback_on": self.callback_on.isoformat() if self.callback_on else None,
                "note": self.note,
                "plan": None
                if self.plan is None
                else {
                    "total": str(self.plan.total),
                    "instalments": [[i.due.isoformat(), str(i.amount)] for i in self.plan.instalments],
                },
                "flags": [f.value for f in self.flags],
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> WrapUp:
        data = json.loads(text)
        try:
            amount = Decimal(data["promise_amount"]) if data.get("promise_amount") else None
        except InvalidOperation:
            raise InputError("the promise amount is not a number", "give an amount like 120.00") from None
        return cls(
            disposition=Disposition(data["disposition"]),
            promise_amount=amount,
            promise_date=dt.date.fromisoformat(data["promise_date"]) if data.get("promise_date") else None,
            callback_on=dt.date.fromisoformat(data["callback_on"]) if data.get("callback_on") else None,
            note=data.get("note") or "",
            plan=None
            if not data.get("plan")
            else InstallmentPlanRecord(
                Decimal(data["plan"]["total"]),
                tuple(
                    InstalmentRecord(dt.date.fromisoformat(due), Decimal(amount))
                    for due, amount in data["plan"]["instalments"]
                ),
            ),
            flags=tuple(AccountFlag(f) for f in data.get("flags") or ()),
        )

    def apply(self, record: ConversationRecord) -> None:
        """Into the call's record, which the dial pipeline stores with the attempt's end."""
        record.disposition = self.disposition
        if self.promise_amount is not None and self.promise_date is not None:
            record.promise = {"date": self.promise_date.isoformat(), "amount": str(self.promise_amount)}
        record.callback_at = self.callback_on
        if self.plan is not None:
            record.plan = self.plan  # written as the bot's accepted plans are, with the attempt
        record.flags = sorted({*record.flags, *(f.value for f in self.flags)})
        # A collector who records a disposition other than "nobody" spoke with the debtor's side.
        record.right_party = self.disposition not in (
            Disposition.NO_CONTACT,
            Disposition.WRONG_NUMBER,
            Disposition.THIRD_PARTY,
        )


class DeskBoard:
    """The desks' states in Redis under ``prefix`` (the live board's, so a campaign and its console meet)."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.r = client
        self.prefix = prefix

    def _key(self, collector_id: str) -> str:
        return f"{self.prefix}desk:state:{collector_id}"

    @property
    def _ready(self) -> str:
        return f"{self.prefix}desk:ready"

    def _seen(self, collector_id: str) -> str:
        return f"{self.prefix}desk:seen:{collector_id}"

    def seen(self, collector_id: str, ttl_s: float = SEEN_S) -> None:
        """The desk's page is open (it polls): a closed or crashed tab stops being rung after ``ttl_s``."""
        self.r.set(self._seen(collector_id), "1", px=max(1, round(ttl_s * 1000)))

    def _wrap_key(self, attempt_id: str) -> str:
        return f"{self.prefix}desk:wrapup:{attempt_id}"

    # --- reading ---------------------------------------------------------------------

    def desk(self, collector_id: str) -> Desk:
        raw = self.r.hgetall(self._key(collector_id))
        if not raw:
            return Desk(collector_id, DeskState.OFFLINE, 0.0)
        h = {_text(k): _text(v) for k, v in raw.items()}
        return Desk(
            collector_id,
            DeskState(h.get("state", "offline")),
            float(h.get("since", 0)),
            h.get("reason", ""),
            h.get("attempt", ""),
            h.get("account", ""),
            float(h["connected_at"]) if h.get("connected_at") else None,
        )

    def ready_count(self) -> int:
        return int(self.r.zcard(self._ready))

    # --- the collector's moves (console) ---------------------------------------------------

    def choose(self, collector_id: str, state: DeskState, reason: str = "", now: float | None = None) -> Desk:
        """The collector goes ready, pauses (with a reason) or logs off; refused mid-call."""
        if state is DeskState.PAUSED and reason not in PAUSE_REASONS:
            raise InputError(f"pause reason {reason[:40]!r}", f"choose one of {', '.join(PAUSE_REASONS)}")
        at = time.time() if now is None else now
        key = self._key(collector_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    current = self.desk(collector_id).state
                    if state not in _BY_COLLECTOR.get(current, frozenset()):
                        pipe.unwatch()
                        raise InputError(
                            f"the desk is {current.value}: it cannot go {state.value} now",
                            "finish the call and its wrap-up first",
                        )
                    pipe.multi()
                    if state is DeskState.OFFLINE:
                        pipe.delete(key)
                    else:
                        pipe.delete(key)
                        pipe.hset(key, mapping={"state": state.value, "since": at, "reason": reason})
                    if state is DeskState.READY:
                        pipe.zadd(self._ready, {collector_id: at})
                    else:
                        pipe.zrem(self._ready, collector_id)
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        return self.desk(collector_id)

    def submit_wrap_up(
        self, collector_id: str, wrap: WrapUp, then: DeskState = DeskState.READY, reason: str = ""
    ) -> str:
        """Hand the wrap-up to the campaign waiting for it; the desk goes ready (or paused). Returns the attempt."""
        if then not in (DeskState.READY, DeskState.PAUSED):
            raise InputError(f"after a wrap-up the desk goes ready or paused, not {then.value}", "choose one")
        if then is DeskState.PAUSED and reason not in PAUSE_REASONS:
            raise InputError(f"pause reason {reason[:40]!r}", f"choose one of {', '.join(PAUSE_REASONS)}")
        desk = self.desk(collector_id)
        if desk.state is DeskState.ON_CALL:
            raise InputError("the call is still up", "hang up first, then save the wrap-up")
        if desk.state is not DeskState.WRAP_UP or not desk.attempt_id:
            raise InputError(
                f"the desk is {desk.state.value}: there is no call to wrap up", "take a call first"
            )
        at = time.time()
        key = self._key(collector_id)
        with self.r.pipeline(transaction=True) as pipe:
            pipe.rpush(self._wrap_key(desk.attempt_id), wrap.to_json())
            pipe.expire(self._wrap_key(desk.attempt_id), WRAP_UP_KEEP_S)
            pipe.delete(key)
            pipe.hset(key, mapping={"state": then.value, "since": at, "reason": reason})
            if then is DeskState.READY:
                pipe.zadd(self._ready, {collector_id: at})
            pipe.execute()
        return desk.attempt_id

    # --- the dialer's moves (campaign) --------------------------------------------------------

    # The longest-ready desk among ARGV[6..] (all ready desks when none is named) whose page was
    # seen lately (ARGV[5] .. id exists), now connecting.
    _CLAIM = """
    local ready = redis.call('ZRANGE', KEYS[1], 0, -1)
    local allowed = {}
    for i = 6, #ARGV do allowed[ARGV[i]] = true end
    for _, cid in ipairs(ready) do
      if (#ARGV < 6 or allowed[cid]) and redis.call('EXISTS', ARGV[5] .. cid) == 1 then
        redis.call('ZREM', KEYS[1], cid)
        local key = ARGV[1] .. cid
        redis.call('DEL', key)
        redis.call('HSET', key, 'state', 'connecting', 'since', ARGV[2], 'attempt', ARGV[3], 'account', ARGV[4])
        return cid
      end
    end
    return false
    """

    def claim(
        self, attempt_id: str, account_id: str, among: tuple[str, ...] = (), now: float | None = None
    ) -> str | None:
        """The longest-ready desk (of ``among``, when given), now connecting to ``attempt_id``; None if none."""
        at = time.time() if now is None else now
        got = self.r.eval(
            self._CLAIM,
            1,
            self._ready,
            f"{self.prefix}desk:state:",
            at,
            attempt_id,
            account_id,
            self._seen(""),
            *among,
        )
        return got.decode() if isinstance(got, bytes) else None

    def ready_among(self, collectors: tuple[str, ...]) -> int:
        """Ready desks among ``collectors`` whose page was seen lately (the ones a claim can get)."""
        if not collectors:
            return 0
        with self.r.pipeline(transaction=False) as pipe:
            pipe.zmscore(self._ready, list(collectors))
            for c in collectors:
                pipe.exists(self._seen(c))
            scores, *seen = pipe.execute()
        return sum(score is not None and bool(live) for score, live in zip(scores, seen, strict=True))

    # The collector's own dial (click-to-call): a ready, paused or offline desk, now connecting.
    _TAKE = """
    local state = redis.call('HGET', KEYS[1], 'state') or 'offline'
    if state ~= 'ready' and state ~= 'paused' and state ~= 'offline' then return state end
    redis.call('ZREM', KEYS[2], ARGV[1])
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'state', 'connecting', 'since', ARGV[2], 'attempt', ARGV[3], 'account', ARGV[4])
    return false
    """

    def take(self, collector_id: str, attempt_id: str, account_id: str, now: float | None = None) -> Desk:
        """The desk for its collector's own call (no campaign claims it meanwhile); returns the desk before.

        Refused while the desk is on a call, connecting to one or in a wrap-up."""
        before = self.desk(collector_id)
        at = time.time() if now is None else now
        busy = self.r.eval(
            self._TAKE, 2, self._key(collector_id), self._ready, collector_id, at, attempt_id, account_id
        )
        if busy is not None:
            raise InputError(
                f"the desk is {_text(busy)}: it cannot place a call now",
                "finish the call and its wrap-up first",
            )
        return before

    def give_back(self, collector_id: str, attempt_id: str, before: Desk, now: float | None = None) -> None:
        """A call of the collector's that never reached them (refused, unanswered): the desk as it was."""
        current = self.desk(collector_id)
        if current.state is not DeskState.CONNECTING or current.attempt_id != attempt_id:
            return  # connected (the wrap-up frees it), or moved on already
        state = before.state if before.state in _BY_COLLECTOR else DeskState.PAUSED
        self.choose_after_call(collector_id, state, before.reason, now)

    def choose_after_call(
        self, collector_id: str, state: DeskState, reason: str = "", now: float | None = None
    ) -> None:
        at = time.time() if now is None else now
        key = self._key(collector_id)
        with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if state is not DeskState.OFFLINE:
                pipe.hset(key, mapping={"state": state.value, "since": at, "reason": reason})
            if state is DeskState.READY:
                pipe.zadd(self._ready, {collector_id: at})
            pipe.execute()

    def _move(self, collector_id: str, **fields: object) -> None:
        self.r.hset(self._key(collector_id), mapping={k: str(v) for k, v in fields.items()})

    def connected(self, collector_id: str, now: float | None = None) -> None:
        at = time.time() if now is None else now
        self._move(collector_id, state=DeskState.ON_CALL.value, since=at, connected_at=at)

    def unreachable(self, collector_id: str, now: float | None = None) -> None:
        """The softphone did not answer: paused (no_answer) until the collector says ready again."""
        at = time.time() if now is None else now
        self._move(collector_id, state=DeskState.PAUSED.value, since=at, reason="no_answer", attempt="")

    def release(self, collector_id: str, now: float | None = None) -> None:
        at = time.time() if now is None else now
        if self.desk(collector_id).state is DeskState.ON_CALL:
            self._move(collector_id, state=DeskState.WRAP_UP.value, since=at)

    def _transcript_key(self, attempt_id: str) -> str:
        return f"{self.prefix}desk:transcript:{attempt_id}"

    def set_transcript(self, attempt_id: str, lines: list[dict[str, str]]) -> None:
        """The bot's conversation before a warm transfer, for the desk's screen pop."""
        self.r.set(self._transcript_key(attempt_id), json.dumps(lines, ensure_ascii=False), ex=WRAP_UP_KEEP_S)

    def transcript(self, attempt_id: str) -> list[dict[str, str]]:
        """What the bot and the debtor said before the call came to the desk (empty: a dialer call)."""
        if not attempt_id:
            return []
        raw = self.r.get(self._transcript_key(attempt_id))
        return [] if raw is None else list(json.loads(raw))

    def wait_wrap_up(self, attempt_id: str, timeout_s: float) -> WrapUp | None:
        """Block until the collector submits the call's wrap-up (None after ``timeout_s``)."""
        got = self.r.blpop([self._wrap_key(attempt_id)], timeout=timeout_s)
        if got is None:
            return None
        return WrapUp.from_json(got[1])


class DeskPool:
    """The agent pool of a campaign whose agents are collectors at their desks (``AgentPool``'s face).

    ``collectors`` maps collector id → the endpoint that rings their desk (``PJSIP/desk-ID``).
    Handle times (connect → wrap-up submitted) are measured here, for the pacing.
    """

    def __init__(self, board: DeskBoard, collectors: dict[str, str]) -> None:
        if not collectors:
            raise InputError(
                "a desk campaign has no collectors with a desk phone", "duncall collectors phone ID"
            )
        self.board = board
        self.endpoints = dict(collectors)
        self._busy: dict[str, float] = {}  # collector → when their call connected (monotonic)
        self._handles: list[float] = []
        self.wrap_up_s = 0.0
        self.away_s = 0.0

    def ready(self) -> int:
        return self.board.ready_among(tuple(self.endpoints))

    def busy_elapsed_s(self, now_s: float) -> tuple[float, ...]:
        """Connect → now of each collector on a call or in its wrap-up (whose end is theirs to say)."""
        return tuple(max(0.0, now_s - at) for at in self._busy.values())

    def wrap_up_left_s(self, now_s: float) -> tuple[float, ...]:
        return ()  # a collector's wrap-up ends when they submit it: its length is not known

    def counts(self) -> Counter[str]:
        return Counter(self.board.desk(c).state.value for c in self.endpoints)

    def claim(self, call_id: str, now_s: float, account_id: str = "") -> AgentSpec | None:
        collector = self.board.claim(call_id, account_id, tuple(self.endpoints))
        if collector is None:
            return None
        self._busy[collector] = now_s
        return AgentSpec(collector, self.endpoints[collector])

    def connected(self, agent_id: str, now_s: float) -> None:
        self._busy[agent_id] = now_s
        self.board.connected(agent_id)

    def unreachable(self, agent_id: str, now_s: float) -> None:
        self._busy.pop(agent_id, None)
        self.board.unreachable(agent_id)

    def release(self, agent_id: str, now_s: float) -> None:
        self.board.release(agent_id)

    async def wrap_up(
        self, agent_id: str, attempt_id: str, timeout_s: float = WRAP_UP_WAIT_S
    ) -> WrapUp | None:
        """The collector's wrap-up of the call (None when none came in time); they are free again after it."""
        try:
            return await asyncio.to_thread(self.board.wait_wrap_up, attempt_id, timeout_s)
        finally:
            connected = self._busy.pop(agent_id, None)
            if connected is not None:
                self._handles.append(max(0.0, time.monotonic() - connected))

    def advance(self, now_s: float) -> list[float]:
        handles, self._handles = self._handles, []
        return handles
