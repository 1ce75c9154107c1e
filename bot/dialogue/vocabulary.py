"""What counts as talking about the debt, and as promising an action, per language.

A prompt that reveals the debt may only be said after right-party verification and
the disclosure; a voicemail may never reveal it (docs/compliance.md).  A prompt that
announces an action ("I have sent you a link", "please hold while I transfer you") must
be bound to that action, so the bot only says it when it is done.  The check refuses
scripts that break either rule and the console flags such wording as it is typed.
"""

from __future__ import annotations

import re
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


# The words a recording notice must say, per language: that the call is recorded.
RECORDING_NOTICE_WORDS: Mapping[str, str] = {"en": "this call is recorded", "zh": "本次通话将被录音"}


def says_recorded(text: str, lang: str) -> bool:
    """Whether a notice tells the debtor, in the script's language, that the call is recorded."""
    words = RECORDING_NOTICE_WORDS.get(lang)
    return words is not None and words in " ".join(text.lower().split())


def mentions_debt(text: str, lang: str) -> bool:
    """Whether a prompt's text reveals a debt, by placeholder or by wording."""
    template = Template(text)
    if template.reveals_debt():
        return True
    lowered = text.lower()
    return any(word in lowered for word in DEBT_WORDS.get(lang, ()))


def state_mentions_debt(state: State, lang: str) -> bool:
    otherwise = state.otherwise.prompts if state.otherwise is not None else ()
    return state.action in DEBT_ACTIONS or any(
        mentions_debt(p.template.text, lang) for p in (*state.prompts, *otherwise, *state.confirm)
    )


# Wording that tells the debtor an action is being taken: a prompt saying one of these
# must be in a state bound to that action (``action:``), or the bot says what it does not do.
ANNOUNCEMENTS: Mapping[str, Mapping[Action, tuple[str, ...]]] = {
    "en": {
        Action.SEND_PAYMENT_LINK: (
            "sent you a link",
            "sent the link",
            "sent you the link",
            "texted you a link",
            "link is on its way",
        ),
        Action.TRANSFER: (
            "transfer you to",
            "transferring you",
            "hold while",
            "connect you to",
            "connecting you",
            "put you through",
        ),
        Action.SUPPRESS_NUMBER: (
            "don't call this number",
            "won't call this number",
            "not call this number",
            "stop calling this number",
            "remove this number",
        ),
        Action.SCHEDULE_CALLBACK: ("call you back", "call you again on"),
    },
    "zh": {
        Action.SEND_PAYMENT_LINK: ("已发送", "已经发送", "已经发给", "发到您的手机"),
        Action.TRANSFER: ("转接", "转人工"),
        Action.SUPPRESS_NUMBER: ("不再拨打", "不再为这位客户拨打", "不会再打这个号码"),
        Action.SCHEDULE_CALLBACK: ("给您回电", "回电给您", "再给您打电话"),
    },
}
# Wording that offers an action the call may not have: the state must offer it (``offers:``)
# or do it, so the offer is only made when the action is available.
OFFERS: Mapping[str, Mapping[Action, tuple[str, ...]]] = {
    "en": {
        Action.SEND_PAYMENT_LINK: (
            "text you a",
            "link we text you",
            "a text with a secure link",
            "send you a link",
        ),
        Action.TRANSFER: ("speak with a person", "talk to a person", "speak to someone"),
    },
    "zh": {
        Action.SEND_PAYMENT_LINK: ("短信给您发", "短信发送", "用短信发"),
        Action.TRANSFER: ("转人工吗", "转接人工客服吗"),
    },
}
# A clause saying the action cannot be done is the honest alternative, not an announcement.
INABILITY: Mapping[str, tuple[str, ...]] = {
    "en": ("can't", "cannot", "can not", "unable", "not able"),
    "zh": ("无法", "不能", "没办法"),
}
# Said just before the wording, these turn it into its opposite ("我们不会再给您打电话").
NEGATED_BY: Mapping[str, tuple[str, ...]] = {
    "en": ("not", "never", "n't"),
    "zh": ("不会", "不", "没有", "别"),
}
_CLAUSE = re.compile(r"[.!?;,。！？；，]")


def announced_actions(text: str, lang: str) -> dict[Action, str]:
    """The actions ``text`` tells the debtor are being taken, each with the wording that says so."""
    return _found(text, lang, ANNOUNCEMENTS)


def offered_actions(text: str, lang: str) -> dict[Action, str]:
    """The actions ``text`` offers the debtor, each with the wording that offers it."""
    return _found(text, lang, OFFERS)


def _found(
    text: str, lang: str, wording: Mapping[str, Mapping[Action, tuple[str, ...]]]
) -> dict[Action, str]:
    found: dict[Action, str] = {}
    for clause in _CLAUSE.split(text.lower().replace("’", "'")):
        if any(word in clause for word in INABILITY.get(lang, ())):
            continue
        for action, phrases in wording.get(lang, {}).items():
            for phrase in phrases:
                at = clause.find(phrase)
                if at < 0 or action in found:
                    continue
                if not clause[:at].rstrip().endswith(NEGATED_BY.get(lang, ())):
                    found[action] = phrase
    return found
