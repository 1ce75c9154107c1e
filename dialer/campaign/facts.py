"""What the guard must know about an account, read from the store at dial time.

Read fresh for every dial — never carried on a target list built earlier — so a
flag set by another call a minute ago (stop calling, dispute) stops this dial.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.guards.gate import AccountFacts, FactsLookup
from dialer.store.models import Account, AccountFlagRow, Phone, PhoneStatusRow


def store_facts(engine: Engine) -> FactsLookup:
    def read(account_id: str, number: str) -> AccountFacts:
        with Session(engine) as s:
            account = s.get(Account, account_id)
            if account is None:
                # No account, no facts: the guard denies for lack of a time zone or consent.
                return AccountFacts(timezone=None, flags=frozenset({"do_not_call"}), consent=False)
            flags = frozenset(
                s.scalars(select(AccountFlagRow.flag).where(AccountFlagRow.account_id == account_id))
            )
            phone = s.get(Phone, (account_id, number))
            status = s.get(PhoneStatusRow, (account_id, number))
            return AccountFacts(
                timezone=account.timezone,
                flags=flags,
                consent=bool(phone and phone.ai_voice_consent and phone.contact_type == "debtor"),
                phone_status=status.status if status is not None else None,
            )

    async def lookup(account_id: str, number: str) -> AccountFacts:
        return await asyncio.to_thread(read, account_id, number)

    return lookup
