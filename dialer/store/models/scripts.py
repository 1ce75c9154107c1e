"""Saved versions of the dialogue scripts.

The console saves and publishes them; the dialer reads the one a campaign is pinned
to (``dialer.campaign.scripts``).  Versions are only ever inserted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base


class ScriptVersion(Base):
    """One saved, valid version of a dialogue script (``early_collection.en``)."""

    __tablename__ = "script_versions"
    __table_args__ = (UniqueConstraint("script", "version", name="uq_script_versions_script_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    script: Mapped[str] = mapped_column(String(100), index=True)  # file stem: <name>.<lang>
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(500), default="")
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(64))
