"""Creditors (the agency's clients): whom a call names, and the number a debtor calls back."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base


class Creditor(Base):
    """One client the agency collects for; an account names its creditor by ``creditor_id``."""

    __tablename__ = "creditors"

    creditor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # as written and spoken, unless ``names`` has the language
    # {"zh": "…"}: the name in a language whose debtors know it by another name.
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # E.164; None: no number to leave, so its accounts get no voicemail and are not dialled.
    callback_number: Mapped[str | None] = mapped_column(String(20))
    caller_id: Mapped[str | None] = mapped_column(String(20))  # E.164 presented on the originate
    timezone: Mapped[str | None] = mapped_column(String(64))  # the creditor's office, for callbacks
    scripts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # stage → script, preferred
    rules_preset: Mapped[str | None] = mapped_column(String(64))
    # Numbers outside the country of the callback number may be imported for its accounts.
    allow_international: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def name_in(self, language: str) -> str:
        return self.names.get(language) or self.name
