"""Run a script as text in the page, with the engine ``duncall flow simulate`` uses.

The page sends the whole conversation so far on every step; the server replays it
from the start (a session holds no state between requests, and a replay of a few
dozen turns takes milliseconds).  Debtor turns use the CLI's conventions: an empty
line is silence, ``#dtmf 1`` a key press, ``#voicemail`` an answering machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.engine import DialogueSession
from bot.dialogue.model import Script
from bot.dialogue.types import BotTurn
from bot.nlu.types import IntentClassifier
from duncall.flows import VOICEMAIL, AccountFile, debtor_turn, result_json
from foundation.errors import InputError

MAX_TURNS = 200

SAMPLE_ACCOUNTS: dict[str, dict[str, Any]] = {
    "en": {
        "account_id": "SIM-1",
        "first_name": "Jordan",
        "last_name": "Avery",
        "language": "en",
        "balance": "420.50",
        "due_date": "2026-01-15",
        "days_past_due": 21,
        "creditor": "Acme Lending",
        "callback_number": "+18005550100",
    },
    "zh": {
        "account_id": "SIM-2",
        "first_name": "伟",
        "last_name": "王",
        "language": "zh",
        "balance": "3200.00",
        "currency": "CNY",
        "due_date": "2026-01-15",
        "days_past_due": 21,
        "creditor": "Acme Lending",
        "callback_number": "+18005550100",
    },
}


@dataclass
class SimulationStep:
    speaker: str  # bot | debtor
    text: str
    state: str


@dataclass
class Simulation:
    steps: list[SimulationStep] = field(default_factory=list)
    done: bool = False
    state: str = ""
    result: dict[str, Any] = field(default_factory=dict)


def run(
    script: Script,
    turns: list[str],
    classifier: IntentClassifier,
    today: dt.date,
    account: dict[str, Any] | None = None,
) -> Simulation:
    if len(turns) > MAX_TURNS:
        raise InputError(f"{len(turns)} turns given; at most {MAX_TURNS}", "start a new simulation")
    view = AccountFile.model_validate(
        account or SAMPLE_ACCOUNTS.get(script.lang, SAMPLE_ACCOUNTS["en"])
    ).view()
    session = DialogueSession(script, view, today, classifier)
    sim = Simulation()

    def show(bot_turns: list[BotTurn]) -> None:
        sim.steps.extend(SimulationStep("bot", t.text, session.state) for t in bot_turns)

    if turns and turns[0].strip() == VOICEMAIL:
        sim.steps.append(SimulationStep("debtor", VOICEMAIL, session.state))
        show(session.voicemail())
        turns = []
    else:
        show(session.start())
    for raw in turns:
        if session.done:
            break
        command = raw.strip()
        sim.steps.append(SimulationStep("debtor", command, session.state))
        show(debtor_turn(session, command))
    sim.done = session.done
    sim.state = session.state
    sim.result = result_json(session.result)
    return sim
