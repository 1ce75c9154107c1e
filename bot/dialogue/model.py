"""A dialogue script as the engine walks it: frozen states, prompts and retries.

Loading (``bot.dialogue.loader``) builds these from YAML; the checks
(``bot.dialogue.check``) report what is wrong as ``Problem``s, each with file and line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.dialogue.types import Action
from bot.speech.template import Template
from foundation.contract import AccountFlag, Disposition, Intent
from foundation.errors import ConfigError

# Flags after which the account is not collected from by phone any more: set from a
# misheard phrase, they end collection on an account for nothing, so a state setting one
# confirms an uncertain recognition first (its ``confirm`` question).
ENDS_COLLECTION = frozenset(
    {AccountFlag.ATTORNEY, AccountFlag.BANKRUPTCY, AccountFlag.DISPUTE, AccountFlag.CEASE_CONTACT}
)


def ends_or_blocks(state: State) -> bool:
    """Whether entering ``state`` ends collection (a flag of ``ENDS_COLLECTION``) or blocks the
    number (a wrong number): done on a misheard reply, neither can be taken back on the call,
    so the state confirms an uncertain recognition first."""
    return bool(state.flags & ENDS_COLLECTION) or state.action is Action.SUPPRESS_NUMBER


@dataclass(frozen=True, slots=True)
class Prompt:
    template: Template
    interruptible: bool
    line: int


@dataclass(frozen=True, slots=True)
class Retry:
    retries: int
    prompts: tuple[Prompt, ...]
    goto: str


@dataclass(frozen=True, slots=True)
class Otherwise:
    """What a state says and where it goes when its action is not available on this call."""

    prompts: tuple[Prompt, ...]
    goto: str
    line: int


@dataclass(frozen=True, slots=True)
class State:
    name: str
    line: int
    prompts: tuple[Prompt, ...]
    action: Action | None
    flags: frozenset[AccountFlag]
    grammar: str | None
    on: Mapping[Intent, str]
    dtmf: Mapping[str, Intent]
    use_global: bool
    next: str | None
    end: Disposition | None
    no_input: Retry
    no_match: Retry
    installments: int | None = None
    first_in_days: int = 7
    default_date: str | None = None
    if_incomplete: str | None = None
    channel: str = "sms"
    queue: str | None = None
    otherwise: Otherwise | None = None
    # An action this state offers ("would you like a link?"): when the call cannot do it the
    # state is not said at all, and its ``otherwise`` is taken instead.
    offers: Action | None = None
    # Asked before entering this state when the answer leading here was heard without
    # confidence ("Did you say you have an attorney?"): a flag that ends collection is
    # never set from a misheard phrase.
    confirm: tuple[Prompt, ...] = ()
    # A transfer's holding line ("One moment please."), said while the desk rings: the debtor
    # does not wait in silence. It never announces the transfer, which is said once accepted.
    hold: tuple[Prompt, ...] = ()

    @property
    def listens(self) -> bool:
        return bool(self.on)


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    lang: str
    # Where the script came from, for messages: its file, or a label such as
    # ``early_collection.en@v3`` for a version parsed from text.
    path: Path
    start: str
    states: Mapping[str, State]
    global_on: Mapping[Intent, str]
    voicemail: tuple[Prompt, ...]
    agent_name: str = "Sam"
    min_confidence: float = 0.5
    max_promise_days: int = 30
    description: str = ""
    # A yes that verifies the right party needs this ASR and intent confidence (a fragment
    # or a guess is asked again); a flag ending collection heard below ``flag_confidence``
    # is confirmed first.
    verify_confidence: float = 0.75
    flag_confidence: float = 0.85
    # "Who is this?": the bot's answer before and after right-party verification (the
    # creditor's name says there is a debt, so only the second may name it).
    identity_unverified: tuple[Prompt, ...] = ()
    identity_verified: tuple[Prompt, ...] = ()
    # Said first on an answered call, never interrupted; the recording starts once it has
    # played, so what the notice announces is true of everything recorded.
    recording_notice: tuple[Prompt, ...] = ()

    def handlers(self, state: State) -> Mapping[Intent, str]:
        """Intents ``state`` answers, its own first, then the script-wide ones."""
        if not state.listens:
            return {}
        if not state.use_global:
            return state.on
        return {**self.global_on, **state.on}


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ScriptError(ConfigError):
    """A script has problems; ``problems`` lists them all, each with file and line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}", "fix the script; `duncall flow check FILE` lists every problem")
        self.problems = tuple(problems)
