"""Answer detection's second opinion: is a line Asterisk calls a machine only a noisy line?

Asterisk's AMD() is an energy detector: a frame louder than ``silence_threshold`` is voice.
On a line whose steady background (hiss, hum, a bad mobile link) stands above that
threshold, the background is one long "word", so AMD calls the answer a machine
(LONGGREETING) and a person who said "hello" would hear a voicemail message: an
abandoned call.  Where that can happen, the bot's side, which heard the same answer
through a snoop (``LineHeard``: speech told from noise by a VAD and by standing above
the line's own background), decides instead, by AMD's own rule: speech followed by
``AFTER_GREETING_SILENCE_MS`` of quiet is a person who greeted and waits; a greeting
that goes on is a machine.

Pure: a function of AMD's verdict and what was heard; the listening is the caller's.
"""

from __future__ import annotations

from enum import StrEnum

from foundation.contract import LineHeard

# asterisk-config/amd.conf, [general] (a unit test keeps these in step with the file).
AMD_SILENCE_THRESHOLD = 256  # silence_threshold: a frame's mean |sample| below this is silence
AFTER_GREETING_SILENCE_MS = 600  # after_greeting_silence: quiet after speech that makes a person

# A background at half AMD's threshold already lifts frames of noise above it: AMD cannot tell
# speech from this line's noise.  Quieter lines keep AMD's verdict (its reading is sound there).
NOISY_FLOOR_LEVEL = AMD_SILENCE_THRESHOLD / 2
MIN_HEARD_MS = 500  # less audio than this says nothing about the line: AMD's verdict stands
# After AMD's MACHINE, how long the bot may go on listening for the quiet that makes a person
# (a "hello" still being said when AMD decided), within the 2 s answer-to-first-word budget.
LISTEN_MORE_MS = 300


class Opinion(StrEnum):
    KEEP = "keep"  # AMD's verdict stands
    HUMAN = "human"  # a person greeted and is waiting: the bot speaks
    NOTSURE = "notsure"  # nothing but line noise: as for a silent answer, the bot speaks
    LISTEN = "listen"  # not yet: ask again with more audio


def second_opinion(amd_status: str, heard: LineHeard | None, *, final: bool) -> Opinion:
    """What the dialer takes the answer for, given AMD's status and what the bot heard so far.

    ``final``: no more listening is allowed (the budget is spent); LISTEN is never returned then.
    """
    if amd_status != "MACHINE" or heard is None or heard.heard_ms < MIN_HEARD_MS:
        return Opinion.KEEP
    if heard.floor_level < NOISY_FLOOR_LEVEL:
        return Opinion.KEEP
    if heard.speech_ms == 0:
        return Opinion.NOTSURE
    if heard.quiet_after_ms >= AFTER_GREETING_SILENCE_MS:
        return Opinion.HUMAN
    return Opinion.KEEP if final else Opinion.LISTEN


def status_for(opinion: Opinion, amd_status: str) -> str:
    """The answer's status as the dialer records it (AMD's own vocabulary)."""
    if opinion is Opinion.HUMAN:
        return "HUMAN"
    if opinion is Opinion.NOTSURE:
        return "NOTSURE"
    return amd_status


def describe(heard: LineHeard | None) -> str:
    """One line for the attempt's record and the log (levels and times only: no content)."""
    if heard is None:
        return "not heard"
    return (
        f"heard {heard.heard_ms} ms, background {heard.floor_level:.0f}, "
        f"speech {heard.speech_ms} ms, then {heard.quiet_after_ms} ms quiet"
    )
