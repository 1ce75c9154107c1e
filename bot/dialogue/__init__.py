"""Dialogue scripts and the engine that walks them, one debtor event at a time."""

from bot.dialogue.channels import InMemoryPaymentLinkChannel, PaymentLinkChannel, PaymentLinkRequest
from bot.dialogue.engine import DialogueSession
from bot.dialogue.loader import check_script, find_script, load_script, parse_script
from bot.dialogue.model import Problem, Script, ScriptError
from bot.dialogue.plans import installment_plan
from bot.dialogue.ports import NO_PORTS, ActionPorts, ConfiguredPorts
from bot.dialogue.types import BotTurn, DialogueResult, DialogueTurn, InstallmentPlan, Promise

__all__ = [
    "NO_PORTS",
    "ActionPorts",
    "BotTurn",
    "ConfiguredPorts",
    "DialogueResult",
    "DialogueSession",
    "DialogueTurn",
    "InMemoryPaymentLinkChannel",
    "InstallmentPlan",
    "PaymentLinkChannel",
    "PaymentLinkRequest",
    "Problem",
    "Promise",
    "Script",
    "ScriptError",
    "check_script",
    "find_script",
    "installment_plan",
    "load_script",
    "parse_script",
]
