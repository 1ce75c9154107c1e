"""Rolling measurements the pacing policy reads: answer rate, ring and handle times, abandonment.

These are plain in-memory accumulators fed with timestamps by their owner (the
simulator, or the live dialer's I/O layer, which may persist them): no clock is
read here and nothing touches the network, so the policy stays a pure function
of what they report.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from foundation.errors import InputError

FloatArray = npt.NDArray[np.float64]

DIAL_WINDOW = 400  # resolved dials behind the answer-rate estimate (~20 min at 1,200 dials/h)
HANDLE_WINDOW = 300  # completed calls behind the handle-time distribution
DELAY_WINDOW = 300  # answers / no-answers behind each ring-time distribution

US_TSR_SPAN_S = 30 * 86_400.0
UK_OFCOM_SPAN_S = 86_400.0
ABANDON_LIMIT = 0.03  # abandoned / live-answered, both US TSR and UK Ofcom


@dataclass(frozen=True, slots=True)
class AbandonRule:
    """A regulator's abandonment limit: at most ``limit`` of answered calls over ``span_s``."""

    name: str
    span_s: float
    limit: float


US_TSR_30D = AbandonRule("us_tsr_30d", US_TSR_SPAN_S, ABANDON_LIMIT)
UK_OFCOM_24H = AbandonRule("uk_ofcom_24h", UK_OFCOM_SPAN_S, ABANDON_LIMIT)
DEFAULT_RULES: tuple[AbandonRule, ...] = (US_TSR_30D, UK_OFCOM_24H)


@dataclass(frozen=True, slots=True)
class AbandonWindow:
    """Counts of one campaign over one rule's rolling window, as of some moment."""

    rule: AbandonRule
    answered: int
    abandoned: int

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


class AbandonLedger:
    """Answered calls of one campaign with whether each was abandoned, per rolling window.

    Each rule keeps its own deque so that expiring the 24 h window does not
    forget what the 30-day window still needs.
    """

    def __init__(self, rules: tuple[AbandonRule, ...] = DEFAULT_RULES) -> None:
        if not rules:
            raise InputError("no abandonment rule given", "pass at least one AbandonRule (e.g. US_TSR_30D)")
        self._rules = rules
        self._events: list[deque[tuple[float, bool]]] = [deque() for _ in rules]
        self._answered = [0] * len(rules)
        self._abandoned = [0] * len(rules)
        self._last_at_s = float("-inf")

    def record(self, at_s: float, *, abandoned: bool) -> None:
        """One live-answered call, connected to an agent (``abandoned=False``) or not."""
        if at_s < self._last_at_s:
            raise InputError(
                f"abandon ledger got time {at_s:.3f} s before {self._last_at_s:.3f} s",
                "record answered calls in time order",
            )
        self._last_at_s = at_s
        for i, events in enumerate(self._events):
            events.append((at_s, abandoned))
            self._answered[i] += 1
            self._abandoned[i] += abandoned

    def windows(self, now_s: float) -> tuple[AbandonWindow, ...]:
        out = []
        for i, rule in enumerate(self._rules):
            events = self._events[i]
            horizon = now_s - rule.span_s
            while events and events[0][0] <= horizon:
                _, was_abandoned = events.popleft()
                self._answered[i] -= 1
                self._abandoned[i] -= was_abandoned
            out.append(AbandonWindow(rule, self._answered[i], self._abandoned[i]))
        return tuple(out)


@dataclass(frozen=True, slots=True, eq=False)
class DialStats:
    """What has been measured about recent dials; sample arrays are sorted ascending."""

    answer_rate: float  # answered / resolved over the last DIAL_WINDOW dials
    dials_measured: int  # how many resolved dials stand behind answer_rate
    answer_delay_s: FloatArray  # dial -> live answer, answered calls
    no_answer_s: FloatArray  # dial -> giving up, unanswered calls
    handle_s: FloatArray  # connect -> agent free again (talk + wrap-up)

    @staticmethod
    def empty() -> DialStats:
        nothing = np.empty(0, dtype=np.float64)
        return DialStats(0.0, 0, nothing, nothing, nothing)


class DialStatsTracker:
    """Sliding windows over recent outcomes; ``snapshot()`` is cached until the next record."""

    def __init__(
        self,
        *,
        dial_window: int = DIAL_WINDOW,
        handle_window: int = HANDLE_WINDOW,
        delay_window: int = DELAY_WINDOW,
    ) -> None:
        if min(dial_window, handle_window, delay_window) < 1:
            raise InputError("a stats window is smaller than 1", "use windows of at least one sample")
        self._outcomes: deque[bool] = deque(maxlen=dial_window)
        self._answered_in_window = 0
        self._answer_delay: deque[float] = deque(maxlen=delay_window)
        self._no_answer: deque[float] = deque(maxlen=delay_window)
        self._handle: deque[float] = deque(maxlen=handle_window)
        self._snapshot: DialStats | None = None

    def record_dial(self, *, answered: bool, ring_s: float) -> None:
        """A dial resolved after ``ring_s`` seconds: live answer or not (busy, no answer, failed)."""
        if ring_s < 0:
            raise InputError(f"negative ring time {ring_s}", "pass seconds from dial to outcome")
        outcomes = self._outcomes
        if len(outcomes) == outcomes.maxlen:
            self._answered_in_window -= outcomes[0]
        outcomes.append(answered)
        self._answered_in_window += answered
        (self._answer_delay if answered else self._no_answer).append(ring_s)
        self._snapshot = None

    def prime(
        self, *, answer_rate: float, answer_delay_s: Sequence[float], handle_s: Sequence[float], dials: int
    ) -> None:
        """Start the windows from what the campaign expects instead of from nothing.

        ``dials`` imaginary dials answer at ``answer_rate`` with the given ring and handle times
        (yesterday's measurements, or the campaign's settings). They sit in the windows like real
        samples, so each real measurement dilutes them and the full windows push them out: the
        pacing policy can dial ahead from the first minute and follows the day as it comes.
        """
        if not 0 < answer_rate <= 1 or dials < 1 or not answer_delay_s or not handle_s:
            raise InputError(
                f"prior answer rate {answer_rate}, {dials} dials",
                "prime with 0 < answer_rate <= 1, dials >= 1 and at least one ring and handle time",
            )
        if min(answer_delay_s) < 0 or min(handle_s) < 0:
            raise InputError("a negative prior ring or handle time", "pass seconds >= 0")
        answered_so_far = 0
        for i in range(dials):
            # Spread the answers evenly, so that a window that drops the oldest keeps the rate.
            answered = round((i + 1) * answer_rate) > answered_so_far
            answered_so_far += answered
            self.record_dial(answered=answered, ring_s=float(answer_delay_s[i % len(answer_delay_s)]))
        for handle in handle_s:
            self.record_handle(float(handle))

    def record_handle(self, handle_s: float) -> None:
        if handle_s < 0:
            raise InputError(f"negative handle time {handle_s}", "pass seconds from connect to agent free")
        self._handle.append(handle_s)
        self._snapshot = None

    def snapshot(self) -> DialStats:
        if self._snapshot is None:
            resolved = len(self._outcomes)
            self._snapshot = DialStats(
                answer_rate=self._answered_in_window / resolved if resolved else 0.0,
                dials_measured=resolved,
                answer_delay_s=np.sort(np.fromiter(self._answer_delay, dtype=np.float64)),
                no_answer_s=np.sort(np.fromiter(self._no_answer, dtype=np.float64)),
                handle_s=np.sort(np.fromiter(self._handle, dtype=np.float64)),
            )
        return self._snapshot
