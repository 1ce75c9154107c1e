"""Running a dialogue script as text, shared by ``duncall flow`` and the console's simulator.

An account view is read from a JSON/YAML file (or the page's form) and checked at the
edge; a debtor turn is one line: empty for silence, ``#dtmf 1`` for a key press,
``#voicemail`` for an answering machine; the result is one JSON object.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.dialogue.engine import DialogueSession
from bot.dialogue.types import BotTurn, DialogueResult
from bot.nlu.types import IntentClassifier
from foundation.contract import AccountView
from foundation.errors import InputError

VOICEMAIL = "#voicemail"


class AccountFile(BaseModel):
    """An account view as a JSON or YAML file, checked at the edge."""

    model_config = ConfigDict(extra="forbid")

    account_id: str
    first_name: str
    last_name: str
    language: str = Field(pattern="^(en|zh)$")
    balance: Decimal = Field(ge=0)
    currency: str = "USD"
    due_date: dt.date | None = None
    days_past_due: int = Field(default=0, ge=0)
    timezone: str | None = None
    # Required: a simulated call names a creditor and leaves its number as a real one does.
    creditor: str = Field(min_length=1)
    callback_number: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$")
    extra: dict[str, str] = Field(default_factory=dict)

    def view(self, today: dt.date | None = None) -> AccountView:
        """The view; days past due without a due date are read as of ``today`` (default: the
        real today), as the account import does, so a script naming the due date has one."""
        fields = self.model_dump()
        if fields["due_date"] is None:
            fields["due_date"] = (today or dt.date.today()) - dt.timedelta(days=self.days_past_due)
        return AccountView(**fields)


def load_account(path: Path, today: dt.date | None = None) -> AccountView:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read account file {path}: {exc.strerror}", "give an existing JSON/YAML file"
        ) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(f"account file {path} is not valid JSON/YAML: {exc}", "fix its syntax") from None
    try:
        return AccountFile.model_validate(data).view(today)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise InputError(
            f"account file {path}: {where}: {first['msg']}", "see `duncall flow simulate -h`"
        ) from None


def load_classifier() -> IntentClassifier:
    """The product's classifier; a model not built yet is an error naming `duncall nlu train`."""
    from bot.nlu import load_classifier as load

    return load()


def result_json(result: DialogueResult) -> dict[str, Any]:
    promise = result.promise
    plan = result.plan
    return {
        "disposition": result.disposition.value,
        "promise": {"date": promise.date.isoformat(), "amount": str(promise.amount)} if promise else None,
        "flags": sorted(f.value for f in result.flags),
        "plan": (
            {
                "count": plan.count,
                "amount": str(plan.amount),
                "last_amount": str(plan.last_amount),
                "first_date": plan.first_date.isoformat(),
            }
            if plan
            else None
        ),
        "callback_at": result.callback_at.isoformat() if result.callback_at else None,
        "transfer_queue": result.transfer_queue,
        "right_party": result.right_party,
        "actions": list(result.actions),
    }


def debtor_turn(session: DialogueSession, command: str) -> list[BotTurn]:
    """What the bot says after one debtor line (already stripped).

    A transfer the session's ports allow is taken as accepted: a text run has no desk to ring.
    """
    turns = _debtor_event(session, command)
    if session.transfer_wanted is not None:
        turns += session.transfer_hold()
        turns += session.transfer_outcome(True)
    return turns


def _debtor_event(session: DialogueSession, command: str) -> list[BotTurn]:
    if command == VOICEMAIL:
        return session.voicemail()
    if command.startswith("#dtmf"):
        digits = command.removeprefix("#dtmf").replace(" ", "")
        if not digits:
            raise InputError(f"{command!r} names no key", "write e.g. `#dtmf 1`")
        return [turn for digit in digits for turn in session.dtmf(digit)]
    if command.startswith("#"):
        raise InputError(f"unknown command {command!r}", "use `#dtmf N` or `#voicemail`, or plain text")
    if not command:
        return session.no_input()
    return session.hear(command)
