"""Campaigns: a named run of the dialer over a set of accounts under one strategy."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


class Campaign(Base):
    __tablename__ = "campaigns"

    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    strategy: Mapped[str] = mapped_column(String(200))  # strategy file name, e.g. default.yaml
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT.value)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
