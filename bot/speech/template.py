"""Prompt templates: ``"Hello {first_name}, your balance is {balance}."``.

A template is filled from ``Spoken`` values, giving a display text for the
transcript and a speech text for TTS from the same source, so what the debtor
hears and what the record shows can never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.speech.spoken import Spoken

# Every placeholder a script may use, and whether saying it reveals the debt (which
# is allowed only after right-party verification, and never in a voicemail).
PLACEHOLDERS: Mapping[str, bool] = {
    "first_name": False,
    "last_name": False,
    "full_name": False,
    "agent_name": False,
    "callback_number": False,
    "creditor": True,
    "balance": True,
    "due_date": True,
    "days_past_due": True,
    "promise_date": True,
    "promise_amount": True,
    "installment_count": True,
    "installment_amount": True,
    "installment_last_amount": True,
    "plan_first_date": True,
    "callback_date": False,
}

_FIELD = re.compile(r"\{([^{}]*)\}")


class TemplateError(ValueError):
    """A template names a placeholder that does not exist or has no value yet."""


@dataclass(frozen=True, slots=True)
class Template:
    text: str

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(m.group(1) for m in _FIELD.finditer(self.text))

    def unknown_placeholders(self) -> tuple[str, ...]:
        return tuple(name for name in self.placeholders if name not in PLACEHOLDERS)

    def reveals_debt(self) -> bool:
        return any(PLACEHOLDERS.get(name, False) for name in self.placeholders)

    def render(self, values: Mapping[str, Spoken]) -> Spoken:
        missing = [name for name in self.placeholders if name not in values]
        if missing:
            raise TemplateError(f"no value for {{{missing[0]}}} at this point of the script")
        display = _FIELD.sub(lambda m: values[m.group(1)].display, self.text)
        speech = _FIELD.sub(lambda m: values[m.group(1)].speech, self.text)
        return Spoken(display, speech)
