"""What the guard must know about an account, read from the store at dial time.

Read fresh for every dial — never carried on a target list built earlier — so a
flag set by another call a minute ago (stop calling, dispute) stops this dial.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.guards.gate import AccountFacts, FactsLookup
from dialer.policy.zones import normalize
from dialer.store.models import Account, AccountFlagRow, Phone, PhoneStatusRow
from dialer.suppression.lists import suppressed_for


def store_facts(engine: Engine) -> FactsLookup:
    def read(account_id: str, number: str) -> AccountFacts:
        with Session(engine) as s:
            account = s.get(Account, account_id)
            phone = s.get(Phone, (account_id, number))
            # Every dial asks the suppression table itself: no copy elsewhere can lag behind it.
            suppressed = suppressed_for(s, normalize(number), phone.consent_date if phone else None)
            if account is None:
                # No account, no facts: the guard denies for lack of a time zone or consent.
                return AccountFacts(
                    timezone=None, flags=frozenset({"do_not_call"}), consent=False, suppressed=suppressed
                )
            flags = frozenset(
                s.scalars(select(AccountFlagRow.flag).where(AccountFlagRow.account_id == account_id))
            )
            status = s.get(PhoneStatusRow, (account_id, number))
            return AccountFacts(
                timezone=account.timezone,
                flags=flags,
                consent=bool(phone and phone.ai_voice_consent and phone.contact_type == "debtor"),
                consent_date=phone.consent_date if phone else None,
                consent_scope=tuple(phone.consent_scope.split("+"))
                if phone and phone.consent_scope
                else ("voice",),
                phone_status=status.status if status is not None else None,
                suppressed=suppressed,
            )

    async def lookup(account_id: str, number: str) -> AccountFacts:
        return await asyncio.to_thread(read, account_id, number)

    return lookup
