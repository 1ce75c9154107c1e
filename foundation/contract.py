"""The contract: what crosses layers.

The dialer, the bot and the application meet here and nowhere else: the intents
the bot understands, how a conversation ended (``Disposition``), how a dial ended
(``CallOutcome``), account flags, what a script may read about an account, one
dial the dialer places (``DialTarget``) and how its Asterisk channels are named
(``ChannelPrefix``), and the call record with its turns.  Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal


class Intent(StrEnum):
    AFFIRM = "affirm"
    DENY = "deny"
    WRONG_NUMBER = "wrong_number"
    THIRD_PARTY = "third_party"
    PROMISE_TO_PAY = "promise_to_pay"
    ALREADY_PAID = "already_paid"
    DISPUTE = "dispute"
    HARDSHIP = "hardship"
    REQUEST_INSTALLMENT = "request_installment"
    CALLBACK_LATER = "callback_later"
    REQUEST_HUMAN = "request_human"
    ASK_AMOUNT = "ask_amount"
    ASK_PAYMENT_METHOD = "ask_payment_method"
    STOP_CALLING = "stop_calling"
    REFUSE_TO_PAY = "refuse_to_pay"
    ABUSIVE = "abusive"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    REPEAT = "repeat"
    # "Who is this?", "how did you get my number?": the bot says who it is and for whom.
    ASK_IDENTITY = "ask_identity"
    OUT_OF_SCOPE = "out_of_scope"


class Disposition(StrEnum):
    """How a conversation ended, as the dialogue reports it to the dialer's strategy."""

    PROMISE_TO_PAY = "promise_to_pay"
    ALREADY_PAID = "already_paid"
    INSTALLMENT_PLAN = "installment_plan"
    DISPUTE = "dispute"
    WRONG_NUMBER = "wrong_number"
    THIRD_PARTY = "third_party"
    CALLBACK = "callback"
    REFUSED = "refused"
    STOP_CALLING = "stop_calling"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    TRANSFERRED = "transferred"
    NO_CONTACT = "no_contact"
    ABUSIVE_ENDED = "abusive_ended"
    INCOMPLETE = "incomplete"
    ABANDONED = "abandoned"  # a person answered and no agent took the call in time


class CallOutcome(StrEnum):
    """How a dial attempt ended at the telephony level (before any dialogue)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    FAILED = "failed"  # congestion, unallocated number, network failure
    ABANDONED = "abandoned"  # answered, no agent/bot available in time


class Voice(StrEnum):
    """Who speaks to the person answering: it decides whether bot-call consent rules apply."""

    BOT = "bot"  # artificial voice: TCPA consent rules apply
    HUMAN = "human"


@dataclass(frozen=True, slots=True)
class DialTarget:
    """One dial the dialer wants to place.

    Whom (account, number), where Asterisk dials and what the bot says
    (``endpoint``, ``language``, ``script``, ``stage``), and the facts the guard
    decides on (time zone, flags, voice, consent, campaign) — a campaign's list
    leaves the facts empty and the guard's gate fills them in at dial time.
    """

    account_id: str
    number: str  # E.164
    endpoint: str = ""  # what Asterisk dials, e.g. PJSIP/+1212…@carrier or Local/x@duncall-personas
    language: str = "en"
    script: str = ""
    stage: str | None = None  # the strategy's collection stage, recorded on the attempt
    timezone: str | None = None  # the account's IANA zone when known
    flags: frozenset[str] = frozenset()
    voice: Voice | None = None  # None: the consent rule is not evaluated
    consent: bool | None = None  # recorded prior express consent for this number
    campaign_id: str | None = None
    phone_status: str | None = None  # the number's status on this account (None: active)
    suppressed: bool = False  # on a do-not-call list, or reported disconnected/reassigned since consent
    caller_id: str | None = None  # E.164 presented to the debtor: the creditor's; None: the trunk's


class ChannelPrefix(StrEnum):
    """How the project names its Asterisk channels and bridges: ``<prefix><id>``.

    Recovery finds a dead run's calls by these names and the live board maps a
    debtor channel back to its attempt, so every leg is named through here.
    """

    DEBTOR = "dc-"  # the debtor's leg of an attempt: dc-<attempt_id>
    AGENT = "da-"  # an agent's leg of an attempt: da-<attempt_id>
    AGENT_BRIDGE = "ab-"  # the bridge the agent shares with the debtor: ab-<attempt_id>
    MEDIA = "dm-"  # the bot's external-media channel
    BOT_BRIDGE = "db-"  # the bridge joining the debtor and the bot's media
    SESSION_BRIDGE = "sb-"  # a supervision session's bridge
    SUPERVISOR = "sv-"  # a supervisor's leg
    SNOOP = "sn-"  # a supervisor's snoop on a call
    LISTEN = "dl-"  # the bot's ear on a debtor's answer while answer detection runs (snoop, media, bridge)

    def of(self, ident: str) -> str:
        """The channel or bridge id for ``ident`` (an attempt id, or a fresh id)."""
        return f"{self.value}{ident}"

    def owns(self, channel_id: str) -> bool:
        return channel_id.startswith(self.value)

    def ident(self, channel_id: str) -> str:
        """``ident`` back from ``of(ident)``; other ids unchanged."""
        return channel_id.removeprefix(self.value)


@dataclass(frozen=True, slots=True)
class LineHeard:
    """What the bot's side heard of an answered line so far, for answer detection's second opinion.

    Levels are mean absolute sample values of 16-bit audio over 20 ms frames, the measure
    Asterisk's answer detection compares with its ``silence_threshold``.
    """

    heard_ms: int  # audio analysed
    floor_level: float  # the line's background: the level of its quieter frames
    speech_ms: int  # frames that sound like speech and stand clearly above that background
    quiet_after_ms: int  # since the last such frame (all of ``heard_ms`` when there was none)


def debtor_channel(attempt_id: str) -> str:
    """The debtor's channel of an attempt (the one place the name is built)."""
    return ChannelPrefix.DEBTOR.of(attempt_id)


def attempt_of(channel_id: str) -> str:
    """The attempt a debtor channel belongs to."""
    return ChannelPrefix.DEBTOR.ident(channel_id)


class AccountFlag(StrEnum):
    DISPUTE = "dispute"
    CEASE_CONTACT = "cease_contact"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    DECEASED = "deceased"
    DO_NOT_CALL = "do_not_call"


@dataclass(frozen=True, slots=True)
class AccountView:
    """What a dialogue script may read about the account it is calling about."""

    account_id: str
    first_name: str
    last_name: str
    language: str  # "en" | "zh"
    balance: Decimal
    currency: str
    due_date: dt.date | None
    days_past_due: int
    timezone: str | None = None
    # Always the account's own creditor, never a default: the debtor hears whom the debt is
    # owed to, and a voicemail leaves the number that creditor answers (E.164).
    _: KW_ONLY
    creditor: str
    callback_number: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        if self.language == "zh":
            return f"{self.last_name}{self.first_name}"
        return f"{self.first_name} {self.last_name}"


# --- What a call leaves behind: every turn with its timings, and the outcome ---
Speaker = Literal["bot", "debtor", "agent"]  # agent: a collector, from the recording of their side


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: Speaker
    text: str
    started_s: float  # seconds from the call's answer
    ended_s: float | None = None
    asr_confidence: float | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    slots: dict[str, str | None] = field(default_factory=dict)
    latency_ms: float | None = None  # debtor's end of speech → bot's first audio sent
    interrupted: bool = False  # a bot turn cut short by barge-in
    dtmf: str | None = None
    # Where a reply's latency went, ms: endpoint (trailing silence), asr (words ready after the
    # endpoint), nlu (understood and decided), tts (prompt audio ready), send (first frame sent).
    stages_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstalmentRecord:
    """One payment of an accepted plan: due on a date in the debtor's own time zone."""

    due: dt.date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InstallmentPlanRecord:
    """An installment plan the debtor accepted on the call, with its whole schedule."""

    total: Decimal
    instalments: tuple[InstalmentRecord, ...]


@dataclass
class ConversationRecord:
    language: str
    turns: list[Turn] = field(default_factory=list)
    disposition: Disposition = Disposition.INCOMPLETE
    flags: list[str] = field(default_factory=list)
    promise: dict[str, str] | None = None
    barge_ins: list[float] = field(default_factory=list)  # ms from debtor speech start to flush
    hangup_by: Literal["bot", "debtor", "unknown"] = "unknown"
    script: str | None = None
    right_party: bool = False  # a right-party conversation took place (Reg F 7-day rule)
    dropped_frames: int = 0
    recording: str | None = None  # ARI stored-recording name of the call's audio
    # Which version of the script ran (set by whoever chose it; None: not known) and its text's hash.
    script_version: int | None = None
    script_sha256: str | None = None
    path: list[str] = field(default_factory=list)  # dialogue states entered, in order
    taken_over_by: str | None = None  # the supervisor who took the call over from the bot
    plan: InstallmentPlanRecord | None = None  # an installment plan the debtor accepted
    callback_at: dt.date | None = None  # the day the debtor asked to be called back (their zone)
    hardship: bool = False  # the debtor said they cannot pay as agreed (the strategy offers a plan)
    # What the bot did that it told the debtor it did ("send_payment_link", "transfer",
    # "schedule_callback", "suppress_number"), in order; an action not available is not here.
    actions: list[str] = field(default_factory=list)
    # The band the debtor's words were heard in: "telephone" (an 8 kHz leg such as G.711, the
    # adapted model) or "wideband"; None: not a call through Asterisk.
    line: str | None = None
