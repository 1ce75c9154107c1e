"""What a call leaves behind: every turn with its timings, and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Speaker = Literal["bot", "debtor"]


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: Speaker
    text: str
    started_s: float  # seconds from the call's answer
    ended_s: float | None = None
    asr_confidence: float | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    slots: dict[str, str | None] = field(default_factory=dict)
    latency_ms: float | None = None  # debtor's end of speech → bot's first audio sent
    interrupted: bool = False  # a bot turn cut short by barge-in
    dtmf: str | None = None
    # Where a reply's latency went, ms: endpoint (trailing silence), asr (words ready after the
    # endpoint), nlu (understood and decided), tts (prompt audio ready), send (first frame sent).
    stages_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class ConversationRecord:
    language: str
    turns: list[Turn] = field(default_factory=list)
    disposition: str = "incomplete"
    flags: list[str] = field(default_factory=list)
    promise: dict[str, str] | None = None
    barge_ins: list[float] = field(default_factory=list)  # ms from debtor speech start to flush
    hangup_by: Literal["bot", "debtor", "unknown"] = "unknown"
    script: str | None = None
    right_party: bool = False  # a right-party conversation took place (Reg F 7-day rule)
    dropped_frames: int = 0
    recording: str | None = None  # ARI stored-recording name of the call's audio
    # Which version of the script ran (set by whoever chose it; None: not known) and its text's hash.
    script_version: int | None = None
    script_sha256: str | None = None
    path: list[str] = field(default_factory=list)  # dialogue states entered, in order
    taken_over_by: str | None = None  # the supervisor who took the call over from the bot
