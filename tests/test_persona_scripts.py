"""The personas' words, as text, lead the shipped script to the disposition each stands for.

The same check as the calls through Asterisk, without the audio: a failure here is a
script or understanding problem, not a telephony or ASR one.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.dialogue.engine import DialogueSession
from bot.dialogue.loader import find_script, load_script
from bot.nlu import load_classifier
from duncall import demo
from duncall.personas import load_personas
from foundation import paths

pytestmark = [pytest.mark.slow, pytest.mark.unit]

PERSONAS = [
    p for p in load_personas(paths.personas_dir()) if p.expect.disposition and p.behaviour == "answer"
]


@pytest.fixture(scope="module")
def classifier():  # type: ignore[no-untyped-def]
    return load_classifier()


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.name)
def test_persona_words_reach_the_expected_disposition(classifier, persona) -> None:  # type: ignore[no-untyped-def]
    script = load_script(find_script(persona.script, persona.language))
    session = DialogueSession(script, demo.account_view(persona), dt.date(2026, 11, 25), classifier)
    session.start()
    replies = list(persona.replies)
    if persona.hang_up_after_reply is not None:
        replies = replies[: persona.hang_up_after_reply]
    for reply in replies:
        if session.done:
            break
        if reply.keys:
            for key in reply.keys:
                session.dtmf(key)
        else:
            session.hear(reply.text)
    while not session.done and not replies and session.result.disposition.value != persona.expect.disposition:
        session.no_input()  # the silent persona: the bot re-prompts, then gives up
    said = [(t.speaker, t.text) for t in session.turns]
    assert session.result.disposition.value == persona.expect.disposition, said
