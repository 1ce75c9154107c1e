"""Script versions a campaign is pinned to.

Without a pin a campaign's calls run the published file in ``scripts/``; with one,
every call the campaign starts runs that saved version (``script_versions``),
whatever is published meanwhile.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base


class CampaignScriptPin(Base):
    __tablename__ = "campaign_script_pins"

    # No foreign key to campaigns: a pin may be set before the campaign's first run makes its row.
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    script: Mapped[str] = mapped_column(String(100), primary_key=True)  # <name>.<lang>
    version: Mapped[int] = mapped_column(Integer)
    pinned_by: Mapped[str] = mapped_column(String(64))
    pinned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
