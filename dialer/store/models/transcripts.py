"""What QA reviews: every turn of a call with its timings and understanding."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base


class CallRecording(Base):
    """One answered attempt's conversation summary (the attempt row holds the telephony side)."""

    __tablename__ = "call_records"

    attempt_id: Mapped[str] = mapped_column(
        ForeignKey("call_attempts.attempt_id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(8))
    script: Mapped[str | None] = mapped_column(String(100))
    amd_status: Mapped[str | None] = mapped_column(String(16))
    hangup_by: Mapped[str] = mapped_column(String(8))
    disposition: Mapped[str] = mapped_column(String(32))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    promise: Mapped[dict[str, str] | None] = mapped_column(JSON)
    barge_ins_ms: Mapped[list[float]] = mapped_column(JSON, default=list)
    audio_path: Mapped[str | None] = mapped_column(String(500))
    # The script version the call ran (0: the file in scripts/ as no console save knows it),
    # and the SHA-256 of its text, which names it exactly either way.
    script_version: Mapped[int | None] = mapped_column(Integer)
    script_sha256: Mapped[str | None] = mapped_column(String(64))
    # The dialogue states entered, in order, repeats included: the call's path through the script.
    path: Mapped[list[str] | None] = mapped_column(JSON)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # A collector's call: who took it, and each side's own recording (speaker → stored name),
    # from which its transcript was made with the two sides apart. NULL on bot calls.
    agent_id: Mapped[str | None] = mapped_column(String(64))
    leg_audio: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # A recorded collector's call whose transcription has not run yet (``dialer.agents.after_call``):
    # the job — each side's recording, when they started, who took the call.  NULL once it ran.
    transcript_due: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class TranscriptTurn(Base):
    __tablename__ = "transcript_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    attempt_id: Mapped[str] = mapped_column(
        ForeignKey("call_records.attempt_id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    started_s: Mapped[float] = mapped_column(Float)
    ended_s: Mapped[float | None] = mapped_column(Float)
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    intent: Mapped[str | None] = mapped_column(String(32))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    slots: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    interrupted: Mapped[bool] = mapped_column(default=False)
    dtmf: Mapped[str | None] = mapped_column(String(4))


class RecordingDeletion(Base):
    """A stored recording Asterisk still holds that erasure or retention has condemned.

    Written in the transaction that removes the call's rows, deleted once Asterisk has deleted
    the recording (ARI ``DELETE /recordings/stored/{name}``): when Asterisk is away, the next
    ``duncall erase`` or ``duncall purge`` finishes the job.  Holds no account id or number.
    """

    __tablename__ = "recording_deletions"

    name: Mapped[str] = mapped_column(String(500), primary_key=True)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(16))  # erase | retention
