"""QA reviewers' scores of finished calls, one per call per reviewer.

A score keeps the answers it was computed from and the form (id and version) it
was given on, so a later change to the form never re-reads old answers wrongly.
Changing a score replaces the row; the audit log keeps every earlier value.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


class QaScore(Base):
    __tablename__ = "qa_scores"
    __table_args__ = (UniqueConstraint("attempt_id", "reviewer", name="uq_qa_scores_attempt_reviewer"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    attempt_id: Mapped[str] = mapped_column(
        ForeignKey("call_attempts.attempt_id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(64))  # a console user name: survives the user's removal
    form: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # question id → yes | no | na
    comment: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float] = mapped_column(Float)  # 0–100; 0 when a fail-all item failed
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    scored_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
