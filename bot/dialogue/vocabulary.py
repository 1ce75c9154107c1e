"""What counts as talking about the debt, per language (docs/compliance.md).

A prompt that reveals the debt may only be said after right-party verification and
the disclosure; a voicemail may never reveal it.  The check refuses scripts that
break this and the console flags such wording as it is typed.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.dialogue.model import State
from bot.dialogue.types import Action
from bot.speech.template import Template

# Words that reveal a debt, per language: a prompt containing one says something about the
# debt even without a placeholder, so it may only be said after verification and disclosure.
DEBT_WORDS: Mapping[str, tuple[str, ...]] = {
    "en": (
        "debt",
        "balance",
        "owe",
        "overdue",
        "past due",
        "payment",
        "pay ",
        "collect",
        "loan",
        "account",
        "installment",
        "amount due",
        "bill",
    ),
    "zh": (
        "欠款",
        "债务",
        "还款",
        "逾期",
        "余额",
        "催收",
        "账单",
        "借款",
        "贷款",
        "欠",
        "分期",
        "付款",
        "账户",
        "应还",
    ),
}
# Wording the mini-Miranda must contain in each language (Reg F §1006.18(e)).
DISCLOSURE_WORDS: Mapping[str, tuple[str, ...]] = {
    "en": ("attempt to collect a debt", "debt collector"),
    "zh": ("催收", "债务"),
}
# Actions whose state talks about the debt whatever its prompt says.
DEBT_ACTIONS = frozenset(
    {
        Action.DISCLOSE,
        Action.STATE_BALANCE,
        Action.CAPTURE_PROMISE,
        Action.CONFIRM_PROMISE,
        Action.OFFER_PLAN,
        Action.ACCEPT_PLAN,
        Action.SEND_PAYMENT_LINK,
    }
)
# A voicemail is a limited-content message: a name, a request to call back and a number.
VOICEMAIL_PLACEHOLDERS = frozenset({"first_name", "last_name", "full_name", "agent_name", "callback_number"})


def mentions_debt(text: str, lang: str) -> bool:
    """Whether a prompt's text reveals a debt, by placeholder or by wording."""
    template = Template(text)
    if template.reveals_debt():
        return True
    lowered = text.lower()
    return any(word in lowered for word in DEBT_WORDS.get(lang, ()))


def state_mentions_debt(state: State, lang: str) -> bool:
    return state.action in DEBT_ACTIONS or any(mentions_debt(p.template.text, lang) for p in state.prompts)
