"""Prometheus metrics: every series duncall exports, defined once, recorded where the work happens.

The dialer's process (with the bot inside it) records them; the console serves them at
``/metrics`` (``duncall.console.metrics``). Under Docker Compose those are different processes
in different containers: with ``PROMETHEUS_MULTIPROC_DIR`` set (docker-compose.yml sets it on
a volume both mount), each process writes its samples to files there and the console sums them
(prometheus_client's multiprocess mode). Without it, ``/metrics`` shows the console process's
own registry — what a test, or a campaign run inside the same process, recorded.

Every metric carries a label, so a process only creates a series (and, in multiprocess mode, a
file) when it records one: the console and the ASR workers, which import this module, write
nothing. Label values are bounded sets (call states, outcomes, guard reasons, dispositions,
stages, languages, campaign ids) — never a number, a name or an account.

What is not recorded here, and why, is listed in docs/deployment.md ("Metrics").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import Counter, Gauge, Histogram

from foundation.contract import ConversationRecord

# A reply's latency: the goal is p95 ≤ 0.8 s, the debtor hangs up on several seconds.
LATENCY_BUCKETS_S = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)
# One stage of a reply (endpoint silence, ASR, NLU, TTS, sending): a few ms to a second or two.
STAGE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0)
BARGE_IN_BUCKETS_S = (0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0)

CALLS = Gauge(
    "duncall_calls",
    "Calls now in each state of the dialer's call state machine (dialing, answered, detecting, connected).",
    ["state"],
    multiprocess_mode="livesum",
)
DIALS = Counter(
    "duncall_dials",
    "Dials the guard allowed, by how they ended: a call outcome, or not_placed when Asterisk refused "
    "the originate (nothing reached the network).",
    ["outcome"],
)
GUARD_DECISIONS = Counter(
    "duncall_guard_decisions",
    "The guard's decisions on dials: allow, deny (one sample per reason) or held (a service it needs "
    "was away, nothing decided).",
    ["decision", "reason"],
)
CONVERSATIONS = Counter("duncall_conversations", "Bot conversations ended, by disposition.", ["disposition"])
TURN_LATENCY = Histogram(
    "duncall_turn_latency_seconds",
    "A bot reply's latency: the debtor's end of speech to the bot's first audio sent.",
    ["language"],
    buckets=LATENCY_BUCKETS_S,
)
TURN_STAGE = Histogram(
    "duncall_turn_stage_seconds",
    "Where a reply's latency went: endpoint (trailing silence), asr, nlu (understood and decided), "
    "tts (prompt audio ready), send (first frame sent).",
    ["stage"],
    buckets=STAGE_BUCKETS_S,
)
BARGE_IN = Histogram(
    "duncall_barge_in_seconds",
    "From the debtor starting to speak over the bot to the bot's audio being flushed.",
    ["language"],
    buckets=BARGE_IN_BUCKETS_S,
)
MEDIA_DROPPED_FRAMES = Counter(
    "duncall_media_dropped_frames",
    "Inbound 20 ms audio frames dropped because the bot's bounded queue was full (the bot fell behind).",
    ["language"],
)
ABANDON_RATE = Gauge(
    "duncall_abandon_rate",
    "Abandoned / live-answered calls of a predictive campaign over a regulator's rolling window "
    "(us_tsr_30d, uk_ofcom_24h; the limit is 0.03), as the pacer last computed it.",
    ["campaign", "window"],
    multiprocess_mode="livemostrecent",
)
ABANDON_ANSWERED = Gauge(
    "duncall_abandon_window_answered",
    "Live-answered calls in the abandonment window (the rate's denominator).",
    ["campaign", "window"],
    multiprocess_mode="livemostrecent",
)

ALLOW = "allow"
DENY = "deny"
HELD = "held"
NOT_PLACED = "not_placed"


def guard_decided(reasons: Sequence[str]) -> None:
    """The guard allowed (no reasons) or denied a dial."""
    if not reasons:
        GUARD_DECISIONS.labels(ALLOW, "").inc()
        return
    for reason in reasons:
        GUARD_DECISIONS.labels(DENY, str(reason)).inc()


def guard_held() -> None:
    GUARD_DECISIONS.labels(HELD, "service_unavailable").inc()


def dial_ended(outcome: str, *, placed: bool = True) -> None:
    DIALS.labels(str(outcome) if placed else NOT_PLACED).inc()


class CallStates:
    """One call's place in the ``duncall_calls`` gauge: moved as its state changes, gone at its end."""

    def __init__(self, state: str) -> None:
        self._state: str | None = str(state)
        CALLS.labels(self._state).inc()

    def move(self, state: str) -> None:
        if self._state is None or str(state) == self._state:
            return
        CALLS.labels(self._state).dec()
        self._state = str(state)
        CALLS.labels(self._state).inc()

    def end(self) -> None:
        if self._state is not None:
            CALLS.labels(self._state).dec()
            self._state = None


def conversation_ended(record: ConversationRecord) -> None:
    """What a finished bot conversation measured: each reply's latency and stages, barge-ins, drops."""
    CONVERSATIONS.labels(str(record.disposition)).inc()
    language = record.language
    for turn in record.turns:
        if turn.latency_ms is not None:
            TURN_LATENCY.labels(language).observe(turn.latency_ms / 1000)
        for stage, ms in turn.stages_ms.items():
            TURN_STAGE.labels(stage).observe(ms / 1000)
    for ms in record.barge_ins:
        BARGE_IN.labels(language).observe(ms / 1000)
    if record.dropped_frames:
        MEDIA_DROPPED_FRAMES.labels(language).inc(record.dropped_frames)


def abandon_windows(campaign: str, windows: Iterable[tuple[str, int, int]]) -> None:
    """``(window name, answered, abandoned)`` per regulator's window, as the pacer just computed them."""
    for name, answered, abandoned in windows:
        ABANDON_RATE.labels(campaign, name).set(abandoned / answered if answered else 0.0)
        ABANDON_ANSWERED.labels(campaign, name).set(answered)
