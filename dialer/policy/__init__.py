"""The dialer's compliance policy: pure functions of a dial request, its history and the rules.

Nothing here does I/O — no Redis, no SQL, no clock of its own.  ``dialer.guards``
wraps it with the atomic Redis check-and-reserve and the durable ledger.
"""

from dialer.policy.decide import Decision, DialRequest, PastAttempt, Voice, evaluate, static_reasons
from dialer.policy.reasons import Reason
from dialer.policy.rules import (
    DEFAULT_RULES,
    CallingCalendar,
    ConsentRules,
    FrequencyRules,
    Rules,
    Window,
)

__all__ = [
    "DEFAULT_RULES",
    "CallingCalendar",
    "ConsentRules",
    "Decision",
    "DialRequest",
    "FrequencyRules",
    "PastAttempt",
    "Reason",
    "Rules",
    "Voice",
    "Window",
    "evaluate",
    "static_reasons",
]
