"""An answered call handled by a dialogue script: the one path the demo and campaigns share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence

from bot.callbot import BotEngines, run_bot
from bot.dialogue.engine import DialogueSession
from bot.dialogue.loader import find_script, load_script
from bot.dialogue.model import Script
from bot.dialogue.ports import NO_PORTS, ActionPorts
from bot.dialogue.types import InstallmentPlan
from bot.nlu.types import IntentClassifier
from foundation.contract import (
    AccountView,
    ConversationRecord,
    Disposition,
    InstallmentPlanRecord,
    InstalmentRecord,
    Intent,
    Turn,
)
from telephony.ari import AriClient


async def converse(
    ari: AriClient,
    channel_id: str,
    script_name: str,
    account: AccountView,
    today: dt.date,
    engines: BotEngines,
    classifier: IntentClassifier,
    *,
    machine: bool,
    on_turn: Callable[[Turn, str], None] | None = None,
    loaded: Script | None = None,
    ports: ActionPorts = NO_PORTS,
    on_transfer: Callable[[str, str, Sequence[Turn]], Awaitable[bool]] | None = None,
) -> ConversationRecord:
    """Run ``script_name`` (in the account's language) on the call; the record carries the result.

    ``on_turn`` sees each turn as it is recorded with the dialogue state it left (the live board).
    ``loaded``: the script already read for this call (a campaign's pinned or published version);
    otherwise the file in ``scripts/`` is read now. Either way the call keeps it to the end.
    ``ports``: what this call can do besides talking (send a link, transfer); by default
    nothing, so the script says its true alternative instead of announcing either.
    ``on_transfer(queue, bridge_id, turns)``: rings a collector when the script transfers (the
    ports must say a transfer is possible); True once one accepted the call.
    """
    script = loaded or load_script(find_script(script_name, account.language))
    session = DialogueSession(script, account, today, classifier, ports=ports)
    record = await run_bot(
        ari,
        channel_id,
        session,
        engines,
        account.language,
        machine=machine,
        record_as=f"call-{channel_id}",
        record_after_notice=bool(script.recording_notice),
        on_turn=None if on_turn is None else (lambda turn: on_turn(turn, session.state)),
        on_transfer=on_transfer,
    )
    result = session.result
    record.script = script.name
    # A call a supervisor took over was handed to a person: the strategy treats it as transferred.
    record.disposition = Disposition.TRANSFERRED if record.taken_over_by else result.disposition
    record.flags = sorted(f.value for f in result.flags)
    record.right_party = result.right_party
    record.path = list(session.path)
    if result.promise is not None:
        record.promise = {"date": result.promise.date.isoformat(), "amount": str(result.promise.amount)}
    if result.plan is not None:
        record.plan = plan_record(result.plan)
    record.callback_at = result.callback_at
    record.actions = list(result.actions)
    record.hardship = any(
        t.understanding is not None and t.understanding.intent is Intent.HARDSHIP for t in session.turns
    )
    return record


def plan_record(plan: InstallmentPlan) -> InstallmentPlanRecord:
    """The accepted plan as the dialer stores it: one row per instalment, the remainder on the last."""
    amounts = [plan.amount] * (plan.count - 1) + [plan.last_amount]
    return InstallmentPlanRecord(
        total=plan.total,
        instalments=tuple(
            InstalmentRecord(due, amount) for due, amount in zip(plan.dates, amounts, strict=True)
        ),
    )
