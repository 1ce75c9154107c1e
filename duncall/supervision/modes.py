"""What each supervision mode connects, and which switches are allowed. Pure: no I/O.

The call is the debtor's channel and the bot's media channel in one mixing
bridge.  The supervisor's own channel sits in a bridge of its own with a snoop
channel (listen, whisper) or joins the call's bridge (barge, take over):

| mode     | supervisor hears      | supervisor is heard by | how                                        |
|----------|-----------------------|------------------------|--------------------------------------------|
| listen   | debtor and bot        | nobody                 | snoop the debtor's channel, spy both ways  |
| whisper  | debtor and bot        | the bot only           | snoop the bot's channel, spy both, whisper toward the bot |
| barge    | debtor and bot        | debtor and bot         | join the call's bridge                     |
| takeover | the debtor            | the debtor             | join the call's bridge; the bot leaves     |

A collector's call (an agent campaign's, ``CallKind.AGENT``) is the debtor's
channel and the collector's in one mixing bridge: the collector stands where
the bot does in the table, so listen hears both, whisper reaches the
collector's ear only, barge is heard by both.  It cannot be taken over: the
collector is the person the call was given to (barge to speak with the debtor).

Snoop directions are ARI's: ``in`` is audio the channel sends into Asterisk,
``out`` is audio Asterisk sends to it.  Whispering ``out`` on the bot's media
channel therefore reaches the bot's ear and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from duncall.supervision.errors import SwitchRefused
from telephony.live.registry import CallKind

Direction = Literal["none", "both", "out", "in"]


class Mode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"
    TAKEOVER = "takeover"


@dataclass(frozen=True, slots=True)
class Tap:
    """How the supervisor's channel is connected to the call in one mode."""

    snoop_on: Literal["debtor", "bot"] | None  # whose channel is snooped; None: no snoop
    spy: Direction = "none"
    whisper: Direction = "none"
    in_call_bridge: bool = False


TAPS: dict[Mode, Tap] = {
    Mode.LISTEN: Tap("debtor", spy="both"),
    Mode.WHISPER: Tap("bot", spy="both", whisper="out"),
    Mode.BARGE: Tap(None, in_call_bridge=True),
    Mode.TAKEOVER: Tap(None, in_call_bridge=True),
}


def check_switch(current: Mode, new: Mode) -> None:
    """Raise ``SwitchRefused`` for a switch that cannot happen.

    A take-over is final: the bot has left the call and is not brought back,
    so a taken-over call can only be ended.
    """
    if current is Mode.TAKEOVER and new is not Mode.TAKEOVER:
        raise SwitchRefused(
            f"the call was taken over; it cannot go back to {new.value}",
            "end the supervision (DELETE) to end the call",
        )


def check_kind(kind: CallKind, mode: Mode) -> None:
    """Raise ``SwitchRefused`` for a mode the kind of call does not have (take-over of a collector)."""
    if kind is CallKind.AGENT and mode is Mode.TAKEOVER:
        raise SwitchRefused(
            "a collector's call cannot be taken over",
            "barge to speak with the debtor and the collector, or ask the collector to hand over",
        )
