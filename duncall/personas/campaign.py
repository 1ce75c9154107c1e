"""The sandbox personas as store accounts, each routed to ``Local/<persona>@duncall-personas``.

With ``copies`` > 1 each persona stands for that many accounts, each with its
own account id and number (the persona's number with its last four digits
replaced by the copy's index), all ringing the same simulated party — a load
campaign of hundreds of persona calls through the real Asterisk.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from dialer.accounts.importer import ImportSummary, import_file
from dialer.creditors.records import CreditorRecord
from dialer.creditors.store import add_creditors
from dialer.store.models import Account, Creditor
from dialer.store.repo import account_view
from duncall.personas import Persona
from duncall.personas.render import CONTEXT
from foundation.contract import AccountView
from foundation.errors import InputError

MAX_COPIES = 10_000  # four digits of the number carry the copy index
# The personas' own creditor.  Its name and number are what the personas' recorded expectations
# (and the ASR checks on the bot's audio) were written with: renaming it changes what they hear.
SANDBOX_CREDITOR = CreditorRecord(
    creditor_id="sandbox-creditor",
    name="Acme Lending",
    callback_number="+18005550100",
    caller_id="+18005550100",
    timezone="America/New_York",
    allow_international=True,  # the Mandarin personas have +86 numbers
)


@dataclass(frozen=True, slots=True)
class PersonaAccount:
    account_id: str
    number: str
    persona: Persona

    @property
    def endpoint(self) -> str:
        return f"Local/{self.persona.name}@{CONTEXT}"


def persona_accounts(personas: Sequence[Persona], copies: int = 1) -> list[PersonaAccount]:
    if not 1 <= copies <= MAX_COPIES:
        raise InputError(f"--copies {copies} is out of range", f"use 1–{MAX_COPIES}")
    out = []
    for p in personas:
        a = p.account
        if copies == 1:
            out.append(PersonaAccount(a.account_id, a.phone, p))
            continue
        for i in range(copies):
            out.append(PersonaAccount(f"{a.account_id}-{i:04d}", f"{a.phone[:-4]}{i:04d}", p))
    return out


def _account_fields(pa: PersonaAccount, today: dt.date) -> dict[str, Any]:
    """The stored account's own fields, as the import writes them."""
    a = pa.persona.account
    return {
        "account_id": pa.account_id,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "timezone": a.timezone,
        "language": pa.persona.language,
        "balance": Decimal(a.balance),
        "currency": a.currency,
        # A due date, not days past due: a persona may be not yet due (pre-due reminder).
        "due_date": a.due_date(today),
        "creditor_id": SANDBOX_CREDITOR.creditor_id,
    }


def persona_view(persona: Persona, today: dt.date) -> AccountView:
    """What the bot reads about a persona's account, through the store's mapping, without a store
    (scripts checked as text, benchmarks); a campaign reads the imported account instead."""
    a = persona.account
    fields = _account_fields(PersonaAccount(a.account_id, a.phone, persona), today)
    creditor = Creditor(
        creditor_id=SANDBOX_CREDITOR.creditor_id,
        name=SANDBOX_CREDITOR.name,
        names=dict(SANDBOX_CREDITOR.names),
        callback_number=SANDBOX_CREDITOR.callback_number,
        caller_id=SANDBOX_CREDITOR.caller_id,
    )
    return account_view(Account(**fields, creditor=creditor), today)


def foreign_accounts(engine: Engine, account_ids: Sequence[str]) -> list[str]:
    """Those of ``account_ids`` already stored for another creditor than the sandbox's: an
    operator's accounts, which a persona run must never write over."""
    found: list[str] = []
    with Session(engine) as s:
        for start in range(0, len(account_ids), 500):
            chunk = list(account_ids[start : start + 500])
            query = select(Account.account_id).where(
                Account.account_id.in_(chunk),
                or_(Account.creditor_id.is_(None), Account.creditor_id != SANDBOX_CREDITOR.creditor_id),
            )
            found += s.scalars(query)
    return sorted(found)


def import_persona_accounts(engine: Engine, accounts: Sequence[PersonaAccount]) -> ImportSummary:
    """Write the accounts through the normal import (idempotent: a re-run updates, never duplicates),
    their sandbox creditor first.  Refused, with nothing written, when a stored account of another
    creditor has a persona's id."""
    taken = foreign_accounts(engine, [a.account_id for a in accounts])
    if taken:
        shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
        raise InputError(
            f"persona account id(s) {shown} already belong to stored accounts of another creditor",
            "persona ids start with P- and are the sandbox's alone: rename the stored accounts or "
            "use another database (--db)",
        )
    add_creditors(engine, [SANDBOX_CREDITOR], replace=True)
    today = dt.date.today()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "personas.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for pa in accounts:
                fields = _account_fields(pa, today)
                creditor = fields.pop("creditor_id")
                row = {
                    **fields,
                    "creditor": creditor,
                    "balance": str(fields["balance"]),
                    "due_date": fields["due_date"].isoformat(),
                    "phones": [
                        {
                            "number": pa.number,
                            "type": "mobile",
                            "ai_voice_consent": True,
                            "consent_date": "2026-01-15",
                            "contact_type": "debtor",
                        }
                    ],
                    "product": "sandbox",
                    "risk_segment": "sandbox",
                    "flags": [],
                }
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return import_file(engine, path)
