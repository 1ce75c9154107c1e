"""A plan without the strategy: exactly these accounts, each with its given script.

A sandbox campaign calls the personas, each written for one script (what its
debtor says follows that script's questions), so it dials every persona once
with its own script whatever stage its days past due would put it in.  The
guard still decides each dial at dial time.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.campaign.targets import EndpointFor, Plan
from dialer.store.models import Account, Phone
from dialer.store.repo import creditor_problem
from foundation.contract import DialTarget


def fixed_plan(engine: Engine, scripts: Mapping[str, str], endpoint_for: EndpointFor) -> Plan:
    """Targets for the accounts of ``scripts`` (account id → script), in the mapping's order."""
    plan = Plan()
    with Session(engine) as s:
        for account_id, script in scripts.items():
            account = s.get(Account, account_id)
            phone = s.scalars(
                select(Phone)
                .where(Phone.account_id == account_id, Phone.contact_type == "debtor")
                .order_by(Phone.position)
            ).first()
            if account is None or phone is None:
                plan.skipped["no debtor phone"] += 1
                continue
            problem = creditor_problem(account)
            if problem is not None:
                plan.skipped[problem] += 1
                continue
            endpoint = endpoint_for(account_id, phone.number)
            if endpoint is None:
                plan.skipped["no endpoint"] += 1
                continue
            plan.targets.append(
                DialTarget(
                    account_id=account_id,
                    number=phone.number,
                    endpoint=endpoint,
                    language=account.language,
                    # Named as the strategy names scripts (early_collection_en): one answer path reads both.
                    script=f"{script}_{account.language}",
                    caller_id=account.creditor.caller_id if account.creditor else None,
                )
            )
    return plan
