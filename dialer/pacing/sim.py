"""A discrete-event simulator of one campaign's dialing day, driving the real pacing policy.

The world is drawn once per seed and shared by every mode (common random
numbers), so modes differ by their pacing alone:

* the answer probability ``p(t)`` wanders inside ``answer_rate``: a value drawn
  uniformly every ``answer_rate_knot_s`` (an hour), linear in between — the
  policy must track it, it is never told;
* call *i* of the list carries a uniform ``u_i``, a ring time and a handle time:
  dialled at ``t`` it is answered iff ``u_i < p(t)``, and resolves (answer or
  give-up) ``ring_i`` seconds after the dial;
* an answered call takes a free agent at once, else waits; if no agent frees
  within the grace period it hears the recorded message and counts as
  abandoned.  Handle time runs from connect to the agent being free again;
  with ``wrap_up_s`` its last ``wrap_up_s`` seconds are a wrap-up of that known
  length (the debtor gone, the agent writing notes), which the policy is told
  about (``CampaignState.wrap_up_left_s``) unless ``wrap_up_known`` is off, so
  the value of knowing it can be measured on the same world.

The policy modes call ``decide()`` every ``tick_s`` on the state built from
the simulated campaign, exactly as the live dialer's pacing loop would.  The
``oracle`` mode is the clairvoyant baseline: it knows every call's outcome, ring
time and handle time and dials each answering call so that it is answered the
moment its agent frees.  Dialing stops at the end of the day; calls in flight
then finish, and occupancy counts talk time within the day only.  The rest of
the agents' day is idle, split by what was going on (``idle_no_call``,
``idle_ringing``, ``idle_throttled``), to show where occupancy is lost.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from dialer.pacing.policy import (
    DEFAULT_CONFIG,
    CampaignState,
    PacingConfig,
    PacingMode,
    decide,
    over_budget,
)
from dialer.pacing.stats import DEFAULT_RULES, AbandonLedger, AbandonRule, DialStatsTracker
from foundation.errors import InputError

TICK_S = 1.0  # how often the pacing loop decides
ANSWER_RATE_KNOT_S = 3600.0  # the answer rate drifts to a new value every hour
PRIOR_DIALS = 50  # imaginary dials at the expected answer rate a primed day starts from
PRIOR_SAMPLES = 20  # imaginary ring and handle times, likewise
_CHUNK = 4096  # calls drawn at a time from the call-list stream

_TICK, _RESOLVE, _FREE, _GRACE, _ANSWER = range(5)


class SimMode(StrEnum):
    AGENTLESS = "agentless"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"
    ORACLE = "oracle"


@dataclass(frozen=True, slots=True)
class Range:
    """A closed uniform range, written ``LOW-HIGH`` (or one number for a constant)."""

    low: float
    high: float

    @classmethod
    def parse(cls, text: str, what: str, *, minimum: float = 0.0, maximum: float = float("inf")) -> Range:
        parts = text.strip().split("-")
        try:
            values = [float(part) for part in parts]
        except ValueError:
            values = []
        if len(values) not in (1, 2):
            raise InputError(
                f"{what} {text!r} is not a number or a range", f"write it like 120-180 for {what}"
            )
        low, high = values[0], values[-1]
        if not minimum <= low <= high <= maximum:
            bounds = f"{minimum:g} <= LOW <= HIGH" + (f" <= {maximum:g}" if maximum != float("inf") else "")
            raise InputError(
                f"{what} {text!r} is out of order or out of range", f"give LOW-HIGH with {bounds}"
            )
        return cls(low, high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def quantiles(self, count: int) -> list[float]:
        """``count`` values splitting the range into equally likely parts (their midpoints)."""
        return [self.low + (self.high - self.low) * (i + 0.5) / count for i in range(count)]

    def __str__(self) -> str:
        return f"{self.low:g}-{self.high:g}"


@dataclass(frozen=True, slots=True)
class SimConfig:
    agents: int = 20
    answer_rate: Range = Range(0.25, 0.35)
    handle_s: Range = Range(120.0, 180.0)
    ring_s: Range = Range(15.0, 25.0)
    hours: float = 8.0
    seed: int = 1
    tick_s: float = TICK_S
    answer_rate_knot_s: float = ANSWER_RATE_KNOT_S
    pacing: PacingConfig = DEFAULT_CONFIG
    rules: tuple[AbandonRule, ...] = DEFAULT_RULES
    line_limit: int | None = None
    # Start the policy's measurements from the campaign's expected answer rate, ring and handle
    # times (the middle of each range), as a live campaign starts from yesterday's; off, the
    # predictive day opens with a progressive cold start.
    primed: bool = True
    wrap_up_s: float = 0.0  # the last seconds of every handle time are a wrap-up of this length
    wrap_up_known: bool = True  # the policy is told when each wrap-up ends (off: they look like calls)

    def __post_init__(self) -> None:
        if self.agents < 1:
            raise InputError(f"{self.agents} agents", "simulate at least 1 agent")
        if not 0 < self.hours <= 24 * 31:
            raise InputError(f"{self.hours} hours", "simulate more than 0 and at most 744 hours")
        if self.tick_s <= 0 or self.answer_rate_knot_s <= 0:
            raise InputError("tick and answer-rate knot spacing must be > 0 s", "fix the simulator config")
        if not 0 <= self.answer_rate.low <= self.answer_rate.high <= 1:
            raise InputError(f"answer rate {self.answer_rate}", "give an answer rate within 0-1")
        if self.handle_s.low <= 0 or self.ring_s.low < 0:
            raise InputError(
                f"handle {self.handle_s} s / ring {self.ring_s} s",
                "use handle times > 0 s and ring times >= 0 s",
            )
        if not 0 <= self.wrap_up_s <= self.handle_s.low:
            raise InputError(
                f"wrap-up {self.wrap_up_s:g} s with handle times {self.handle_s} s",
                "give a wrap-up between 0 s and the shortest handle time",
            )


@dataclass(frozen=True, slots=True)
class PacingSimResult:
    mode: str
    seed: int
    agents: int
    hours: float
    placed: int
    answered: int
    unanswered: int
    connected: int
    abandoned: int
    abandon_rate: float  # abandoned / answered
    occupancy: float  # agent talk time within the day / (agents * day)
    wait_mean_s: float  # answer -> agent, connected calls
    wait_p95_s: float
    max_concurrent: int  # ringing + waiting + connected, at most
    # Where the agents' idle time went (shares of agents * day; policy modes, 0 for the oracle;
    # occupancy + the three = 1): nothing ringing, calls ringing that had not answered yet, and
    # calls ringing while predictive was throttled to progressive by its abandonment budget.
    idle_no_call: float
    idle_ringing: float
    idle_throttled: float
    wall_s: float  # real time the simulation took
    cpu_s: float  # CPU time it took (what a busy machine's wall time hides)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class World:
    """The day's randomness, fixed by the seed and independent of how it is dialled."""

    def __init__(self, config: SimConfig) -> None:
        self._config = config
        knots = int((config.hours * 3600.0 + 3600.0) // config.answer_rate_knot_s) + 2
        world_rng = np.random.default_rng([config.seed, 0])
        self._knot_values = [
            float(v) for v in world_rng.uniform(config.answer_rate.low, config.answer_rate.high, knots)
        ]
        self._calls_rng = np.random.default_rng([config.seed, 1])
        self._u: list[float] = []
        self._ring: list[float] = []
        self._handle: list[float] = []

    def answer_prob(self, at_s: float) -> float:
        position = at_s / self._config.answer_rate_knot_s
        k = min(int(position), len(self._knot_values) - 2)
        frac = position - k
        return self._knot_values[k] * (1.0 - frac) + self._knot_values[k + 1] * frac

    def call(self, index: int) -> tuple[float, float, float]:
        """(u, ring_s, handle_s) of the index-th call of the list."""
        while index >= len(self._u):
            rng, cfg = self._calls_rng, self._config
            self._u += rng.random(_CHUNK).tolist()
            self._ring += rng.uniform(cfg.ring_s.low, cfg.ring_s.high, _CHUNK).tolist()
            self._handle += rng.uniform(cfg.handle_s.low, cfg.handle_s.high, _CHUNK).tolist()
        return self._u[index], self._ring[index], self._handle[index]


@dataclass
class _Tally:
    day_s: float
    placed: int = 0
    answered: int = 0
    unanswered: int = 0
    abandoned: int = 0
    talk_s: float = 0.0
    max_concurrent: int = 0
    waits: list[float] = field(default_factory=list)
    idle_no_call_s: float = 0.0
    idle_ringing_s: float = 0.0
    idle_throttled_s: float = 0.0

    def connect(self, at_s: float, answered_at_s: float, handle_s: float) -> None:
        self.waits.append(at_s - answered_at_s)
        self.talk_s += min(at_s + handle_s, self.day_s) - min(at_s, self.day_s)

    def result(self, mode: SimMode, config: SimConfig, started: tuple[float, float]) -> PacingSimResult:
        waits = np.asarray(self.waits, dtype=np.float64)
        return PacingSimResult(
            mode=mode.value,
            seed=config.seed,
            agents=config.agents,
            hours=config.hours,
            placed=self.placed,
            answered=self.answered,
            unanswered=self.unanswered,
            connected=len(self.waits),
            abandoned=self.abandoned,
            abandon_rate=self.abandoned / self.answered if self.answered else 0.0,
            occupancy=self.talk_s / (config.agents * self.day_s),
            wait_mean_s=float(waits.mean()) if waits.size else 0.0,
            wait_p95_s=float(np.percentile(waits, 95)) if waits.size else 0.0,
            max_concurrent=self.max_concurrent,
            idle_no_call=self.idle_no_call_s / (config.agents * self.day_s),
            idle_ringing=self.idle_ringing_s / (config.agents * self.day_s),
            idle_throttled=self.idle_throttled_s / (config.agents * self.day_s),
            wall_s=time.perf_counter() - started[0],
            cpu_s=time.process_time() - started[1],
        )


def simulate(config: SimConfig, mode: SimMode) -> PacingSimResult:
    if mode is SimMode.ORACLE:
        return _simulate_oracle(config)
    return _simulate_policy(config, PacingMode(mode.value))


def simulate_modes(config: SimConfig, modes: list[SimMode]) -> Iterator[PacingSimResult]:
    for mode in modes:
        yield simulate(config, mode)


def _simulate_policy(config: SimConfig, mode: PacingMode) -> PacingSimResult:
    started = (time.perf_counter(), time.process_time())
    world = World(config)
    day_s = config.hours * 3600.0
    grace_s = config.pacing.abandon_grace_s
    tally = _Tally(day_s)
    tracker = DialStatsTracker()
    if config.primed:
        tracker.prime(
            answer_rate=config.answer_rate.mean,
            answer_delay_s=config.ring_s.quantiles(PRIOR_SAMPLES),
            handle_s=config.handle_s.quantiles(PRIOR_SAMPLES),
            dials=PRIOR_DIALS,
        )
    ledger = AbandonLedger(config.rules)
    free = config.agents
    ringing: dict[int, float] = {}  # call -> dial time
    connected: dict[int, float] = {}  # call -> connect time
    ready_at: dict[int, float] = {}  # call -> when its agent is ready again
    told_wrap_up_s = config.wrap_up_s if config.wrap_up_known else 0.0
    waiting: dict[int, float] = {}  # call -> answer time, oldest first
    events: list[tuple[float, int, int, int]] = [(0.0, 0, _TICK, -1)]
    seq = 1
    next_call = 0
    idle_since = 0.0  # idle agent-time is counted up to each event, by what the dialer was doing
    throttled = False

    while events:
        now, _, kind, call = heapq.heappop(events)
        if free and idle_since < day_s:
            idle_s = free * (min(now, day_s) - idle_since)
            if not ringing:
                tally.idle_no_call_s += idle_s
            elif throttled:
                tally.idle_throttled_s += idle_s
            else:
                tally.idle_ringing_s += idle_s
        idle_since = now
        if kind == _TICK:
            busy, wrapping = [], []
            for on, at in connected.items():
                left = ready_at[on] - now
                if left < told_wrap_up_s:
                    wrapping.append(left)
                else:
                    busy.append(now - at)
            windows = ledger.windows(now) if mode is PacingMode.PREDICTIVE else ()
            throttled = any(over_budget(w, config.pacing) for w in windows)
            state = CampaignState(
                mode=mode,
                free_agents=free,
                busy_elapsed_s=tuple(busy),
                wrap_up_left_s=tuple(wrapping),
                wrap_up_s=told_wrap_up_s,
                ringing_elapsed_s=tuple([now - at for at in ringing.values()]),
                waiting_answered=len(waiting),
                stats=tracker.snapshot(),
                windows=windows,
                line_limit=config.line_limit,
            )
            for _ in range(decide(state, config.pacing).calls):
                _, ring_s, _ = world.call(next_call)
                ringing[next_call] = now
                heapq.heappush(events, (now + ring_s, seq, _RESOLVE, next_call))
                seq += 1
                next_call += 1
                tally.placed += 1
            tally.max_concurrent = max(tally.max_concurrent, len(ringing) + len(connected) + len(waiting))
            if now + config.tick_s < day_s:
                heapq.heappush(events, (now + config.tick_s, seq, _TICK, -1))
                seq += 1
        elif kind == _RESOLVE:
            dialled_at = ringing.pop(call)
            u, _, handle_s = world.call(call)
            answered = u < world.answer_prob(dialled_at)
            tracker.record_dial(answered=answered, ring_s=now - dialled_at)
            if not answered:
                tally.unanswered += 1
                continue
            tally.answered += 1
            if free:
                free -= 1
                connected[call] = now
                ready_at[call] = now + handle_s
                tally.connect(now, now, handle_s)
                ledger.record(now, abandoned=False)
                heapq.heappush(events, (now + handle_s, seq, _FREE, call))
            else:
                waiting[call] = now
                heapq.heappush(events, (now + grace_s, seq, _GRACE, call))
            seq += 1
        elif kind == _FREE:
            tracker.record_handle(now - connected.pop(call))
            del ready_at[call]
            if waiting:
                taken = next(iter(waiting))
                answered_at = waiting.pop(taken)
                handle_s = world.call(taken)[2]
                connected[taken] = now
                ready_at[taken] = now + handle_s
                tally.connect(now, answered_at, handle_s)
                ledger.record(now, abandoned=False)
                heapq.heappush(events, (now + handle_s, seq, _FREE, taken))
                seq += 1
            else:
                free += 1
        elif kind == _GRACE and call in waiting:
            del waiting[call]
            tally.abandoned += 1
            ledger.record(now, abandoned=True)
    if idle_since < day_s:  # every call ended before the day did: the rest of it is idle
        tally.idle_no_call_s += free * (day_s - idle_since)
    return tally.result(SimMode(mode.value), config, started)


def _simulate_oracle(config: SimConfig) -> PacingSimResult:
    """Each agent's next answering call is dialled to be answered the moment the agent frees."""
    started = (time.perf_counter(), time.process_time())
    world = World(config)
    day_s = config.hours * 3600.0
    tally = _Tally(day_s)
    events: list[tuple[float, int, int, int]] = []
    seq = 0
    next_call = 0

    def book(agent_free_at: float, now: float) -> None:
        # Calls that will not answer are dialled too (they are on the list), at the time
        # the oracle would have dialled them; they cost no agent time.
        nonlocal next_call, seq
        while True:
            u, ring_s, _ = world.call(next_call)
            dial_at = max(now, agent_free_at - ring_s)
            if dial_at >= day_s:
                return
            tally.placed += 1
            next_call += 1
            if u < world.answer_prob(dial_at):
                # Exactly the free time when dialled ahead, so float rounding cannot overlap calls.
                answer_at = agent_free_at if dial_at > now else now + ring_s
                heapq.heappush(events, (answer_at, seq, _ANSWER, next_call - 1))
                seq += 1
                return
            tally.unanswered += 1

    for _ in range(config.agents):
        book(0.0, 0.0)
    in_call = 0
    while events:
        now, _, kind, call = heapq.heappop(events)
        if kind == _ANSWER:
            tally.answered += 1
            handle_s = world.call(call)[2]
            tally.connect(now, now, handle_s)
            in_call += 1
            tally.max_concurrent = max(tally.max_concurrent, in_call)
            heapq.heappush(events, (now + handle_s, seq, _FREE, call))
            seq += 1
            book(now + handle_s, now)
        else:
            in_call -= 1
    return tally.result(SimMode.ORACLE, config, started)
