"""Persona files, validated at the edge with pydantic, frozen inside."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from foundation.config import Strict, read_yaml, validate
from foundation.errors import ConfigError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


class Reply(Strict):
    # What the persona says, or the keys it presses instead ("1": the scripts' "press 1 to
    # confirm"); exactly one of the two.
    text: str = Field(default="", max_length=400)
    keys: str = Field(default="", pattern=r"^[0-9*#]{0,8}$")
    # When the persona speaks: after the bot finished talking ("after_bot"), or
    # while the bot is still talking ("barge_in", after `barge_after_ms` of bot speech).
    when: Literal["after_bot", "barge_in"] = "after_bot"
    barge_after_ms: int = Field(default=1200, ge=0, le=20000)
    pause_ms: int = Field(default=300, ge=0, le=10000)

    @model_validator(mode="after")
    def _words_or_keys(self) -> Reply:
        if bool(self.text.strip()) == bool(self.keys):
            raise ValueError(
                "a reply has either text (words said) or keys (digits pressed), not both or neither"
            )
        return self


# Persona accounts live in their own namespace: ``P-…`` ids (and the sandbox creditor), so a
# persona run never writes over an account an operator imported (``A-1001`` and the like).
PERSONA_ID_PATTERN = r"^P-[A-Za-z0-9][A-Za-z0-9-]{0,60}$"


class AccountData(Strict):
    account_id: str = Field(pattern=PERSONA_ID_PATTERN)
    first_name: str
    last_name: str
    phone: str
    balance: Decimal
    currency: str = "USD"
    days_past_due: int = 30
    timezone: str | None = None

    def due_date(self, today: dt.date) -> dt.date:
        """The due date as of ``today`` (negative days past due: not yet due)."""
        return today - dt.timedelta(days=self.days_past_due)


class Expectation(Strict):
    outcome: Literal["answered", "busy", "no_answer", "voicemail", "failed"]
    disposition: str | None = None
    heard: list[str] = Field(default_factory=list)  # words the bot's ASR must hear


class Persona(Strict):
    name: str
    description: str
    language: Literal["en", "zh"] = "en"
    # The dialogue script the bot calls this debtor with (scripts/<script>.<language>.yaml).
    script: str = Field(default="early_collection", pattern=r"^[a-z][a-z0-9_]{1,60}$")
    behaviour: Literal["answer", "busy", "no_answer", "voicemail", "congestion"] = "answer"
    ring_ms: int = Field(default=1500, ge=0, le=60000)
    greeting: str | None = "hello?"  # said on answer, as people do
    replies: list[Reply] = Field(default_factory=list)
    # After the last reply: hang up, or stay on the line (silent) until the bot ends the call.
    after_replies: Literal["hang_up", "stay"] = "stay"
    hang_up_after_reply: int | None = None  # hang up mid-call after this 1-based reply
    account: AccountData
    expect: Expectation

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("must be lowercase letters, digits and _ (2-41 chars), starting with a letter")
        return v

    @property
    def voice(self) -> str:
        # espeak-ng 1.51's "cmn" voice reads many characters' pinyin as English
        # ("底" as "di three"); "cmn-latn-pinyin" speaks the same text as Mandarin.
        return "cmn-latn-pinyin" if self.language == "zh" else "en-us"


def load_persona(path: Path) -> Persona:
    doc = read_yaml(path, "persona file")
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{path}: a persona file must be a mapping", "see personas/cooperative.yaml")
    persona = validate(Persona, doc, "fix the persona file (see personas/cooperative.yaml)")
    if persona.name != path.stem:
        raise doc.error(
            ("name",),
            f"name '{persona.name}' differs from the file name",
            f"rename it to {persona.name}.yaml",
        )
    return persona


def load_personas(directory: Path) -> list[Persona]:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"no persona files in {directory}", "add personas/*.yaml")
    return [load_persona(f) for f in files]
