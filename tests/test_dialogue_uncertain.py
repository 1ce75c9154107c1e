"""What the bot does with a recognition it is not sure of.

A fragment or a guess at "may I speak with John Smith?" is asked again and, past the
script's limit, the call ends without a word about the debt; a flag that ends collection
(attorney, bankruptcy, dispute, stop calling) heard without confidence is said back first
("Did you say you have an attorney?").  The recognizer's confidence comes from the decode
(``bot.asr.sphinx``); these tests give the engine the values a decode gives.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from fakes.classifier import KeywordClassifier

from bot.asr.sphinx import _minimal_automaton, jsgf
from bot.dialogue import DialogueSession, load_script
from bot.grammars import phrases
from bot.nlu.grammar import fill
from bot.nlu.slots import extract
from bot.nlu.types import Understanding
from foundation import paths
from foundation.contract import AccountFlag, AccountView, Disposition, Intent

pytestmark = pytest.mark.unit

TODAY = dt.date(2027, 3, 3)  # a Wednesday
SURE, FRAGMENT = 0.93, 0.61  # a whole phrase that fits the audio; a piece of one (decode values)
DEBT_WORDS = ("debt", "balance", "1,250", "owe")
ACCOUNT = AccountView(
    account_id="A-1",
    first_name="John",
    last_name="Smith",
    language="en",
    balance=Decimal("1250.00"),
    currency="USD",
    due_date=dt.date(2027, 3, 20),
    days_past_due=10,
    creditor="Acme Lending",
    callback_number="+18005550100",
)


WHO = ("who is this", "how did you get my number", "你是谁")


class SlotsAsSaid(KeywordClassifier):
    """The keyword rules' intents with the product's slot parser (amounts in words)."""

    def understand(
        self,
        text: str,
        lang: str,
        today: dt.date,
        expected: tuple[Intent, ...] = (),
        grammar: str | None = None,
    ) -> Understanding:
        u = super().understand(text, lang, today, expected, grammar)
        if text in WHO:
            u = Understanding(text, Intent.ASK_IDENTITY, 0.9, u.slots)
        return Understanding(u.text, u.intent, u.confidence, extract(text, lang, today))


def _session(script: str = "early_collection") -> DialogueSession:
    s = load_script(paths.scripts_dir() / f"{script}.en.yaml")
    session = DialogueSession(s, ACCOUNT, TODAY, SlotsAsSaid())
    session.start()
    return session


def _said(session: DialogueSession) -> str:
    return " ".join(t.text for t in session.turns if t.speaker == "bot").lower()


@pytest.mark.parametrize(
    "script", ["pre_due_reminder", "early_collection", "mid_collection", "late_installment"]
)
def test_a_fragment_at_verification_is_asked_again_and_never_hears_about_the_debt(script: str) -> None:
    session = _session(script)
    for _ in range(5):
        if session.done:
            break
        session.hear("yes that is", FRAGMENT)
    assert not session.right_party
    assert session.done, "past the script's limit the call ends"
    assert not any(w in _said(session) for w in DEBT_WORDS), _said(session)


def test_a_sure_yes_verifies_and_a_fragment_then_a_sure_yes_too() -> None:
    session = _session()
    session.hear("yes that is", FRAGMENT)
    assert not session.right_party and session.state == "greeting"
    session.hear("yes this is john speaking", SURE)
    assert session.right_party


def test_an_uncertain_attorney_is_said_back_and_a_no_asks_the_question_again() -> None:
    session = _session()
    session.hear("yes this is john speaking", SURE)
    turns = session.hear("talk to my lawyer", 0.77)
    assert [t.text for t in turns] == ["Did you say you have an attorney? Please say yes or no."]
    assert session.grammar == "confirm"
    turns = session.hear("no", SURE)
    assert session.state == "balance" and "are you able to pay it today" in turns[-1].text.lower()
    session.hear("i can pay two hundred dollars on friday", SURE)
    session.hear("yes", SURE)
    assert AccountFlag.ATTORNEY not in session.result.flags


def test_an_uncertain_attorney_confirmed_sets_the_flag_and_a_sure_one_needs_no_question() -> None:
    session = _session()
    session.hear("yes this is john speaking", SURE)
    session.hear("i have a lawyer", 0.7)
    session.hear("yes", SURE)
    assert session.done and AccountFlag.ATTORNEY in session.result.flags
    sure = _session()
    sure.hear("yes this is john speaking", SURE)
    sure.hear("i have a lawyer", 0.9)
    assert sure.done and AccountFlag.ATTORNEY in sure.result.flags
    assert "did you say" not in _said(sure)


def test_stop_calling_before_verification_is_confirmed_without_a_word_about_the_debt() -> None:
    session = _session()
    session.hear("stop calling me", 0.6)
    assert "did you ask us to stop calling" in _said(session)
    session.hear("yes", SURE)
    assert session.result.disposition is Disposition.STOP_CALLING
    assert AccountFlag.CEASE_CONTACT in session.result.flags
    assert not any(w in _said(session) for w in DEBT_WORDS)


def test_stop_calling_heard_below_the_floor_is_asked_about_not_passed_over() -> None:
    # Heard at 0.46 ("stop calling me do not call this", the end cut off): too poor to act on,
    # so the bot asks; it must not re-ask the balance question, whose "yes" would become a promise.
    session = _session()
    session.hear("yes this is john speaking", SURE)
    turns = session.hear("stop calling me do not call this", 0.46)
    assert [t.text for t in turns] == ["Did you ask us to stop calling you? Please say yes or no."]
    session.hear("yes", SURE)
    assert session.result.disposition is Disposition.STOP_CALLING
    assert AccountFlag.CEASE_CONTACT in session.result.flags
    assert session.result.promise is None


def test_the_promise_is_stored_as_said_amount_and_date() -> None:
    session = _session()
    session.hear("yes this is john speaking", SURE)
    turns = session.hear("i can pay two hundred dollars on friday", SURE)
    read_back = turns[-1].text
    assert "$200.00" in read_back and "March 5" in read_back, read_back
    session.hear("yes that is right", SURE)
    promise = session.result.promise
    assert promise is not None
    assert promise.amount == Decimal("200.00") and promise.date == dt.date(2027, 3, 5)


def test_the_promise_grammar_holds_amount_and_date_in_one_phrase() -> None:
    promise = phrases("en", "promise")
    assert "i can pay two hundred dollars on friday" in promise
    assert "two hundred dollars on friday" in promise
    assert not any("{" in p for p in promise)
    zh = phrases("zh", "promise")
    assert "五百块，月底" in zh and "我下周五还三百块" in zh


def test_account_words_are_filled_per_call() -> None:
    identity = phrases("en", "identity")
    assert "yes this is {first_name} speaking" in identity
    filled = fill(identity, {"first_name": "john", "last_name": "smith"})
    assert "yes this is john speaking" in filled and not any("{" in p for p in filled)
    assert not any("{" in p for p in fill(identity, {}))


def test_the_grammar_automaton_accepts_exactly_the_phrases() -> None:
    listed = sorted({tuple(p.split()) for p in phrases("en", "promise")})
    rules = _minimal_automaton(listed)

    def accepts(words: tuple[str, ...]) -> bool:
        state = 0
        for w in words:
            nxt = dict(rules[state][0]).get(w)
            if nxt is None:
                return False
            state = nxt
        return rules[state][1] or not rules[state][0]

    assert all(accepts(p) for p in listed)
    assert not accepts(("i", "can", "pay", "two", "hundred", "dollars", "on"))
    assert len(rules) < len(listed) / 5  # shared beginnings and endings: a small search
    assert jsgf("g", ("yes", "yes that is right")).count("public <utt>") == 1


@pytest.mark.parametrize(
    "script", ["pre_due_reminder", "early_collection", "mid_collection", "late_installment"]
)
def test_who_is_this_is_answered_and_the_call_goes_on(script: str) -> None:
    session = _session(script)
    turns = session.hear("who is this", SURE)
    said = " ".join(t.text for t in turns)
    assert "my name is sam" in said.lower() and "John Smith" in said
    assert "Acme" not in said and not any(w in said.lower() for w in DEBT_WORDS), said
    assert session.state == "greeting" and not session.done
    greeting = next(t for t in session.turns if t.speaker == "bot" and t.action != "recording_notice")
    assert turns[-1].text == greeting.text  # asked again
    session.hear("yes this is john speaking", SURE)
    assert session.right_party
    turns = session.hear("how did you get my number", SURE)
    assert "on behalf of Acme Lending" in " ".join(t.text for t in turns)
    assert not session.done


def test_a_denied_verification_detail_is_not_a_wrong_number() -> None:
    """A "no" is a no: it never blocks the number (only a wrong_number ending does)."""
    session = _session()
    session.hear("no", SURE)
    assert session.state != "wrong_number" and not session.done


@pytest.mark.parametrize(
    "script", ["pre_due_reminder", "early_collection", "mid_collection", "late_installment"]
)
def test_an_uncertain_wrong_number_is_asked_about_before_the_number_is_blocked(script: str) -> None:
    # "no you have the wrong number" heard at 0.5 on a phone line: blocking the debtor's own
    # number on a mishearing cannot be undone on the call, so the bot asks first.
    session = _session(script)
    turns = session.hear("no you have the wrong number", 0.5)
    assert [t.text for t in turns] == ["Did you say this is the wrong number? Please say yes or no."]
    assert not session.done and session.grammar == "confirm"
    session.hear("wrong number", 0.6)  # the same again confirms it
    assert session.result.disposition is Disposition.WRONG_NUMBER
    # A "no" to the question: the greeting's question again, the number not blocked.
    denied = _session(script)
    denied.hear("you have the wrong number", 0.5)
    turns = denied.hear("no", SURE)
    assert not denied.done and denied.state == "greeting", [t.text for t in turns]
    # Heard for sure: no question.
    sure = _session(script)
    sure.hear("no you have the wrong number", SURE)
    assert sure.result.disposition is Disposition.WRONG_NUMBER
    assert "did you say" not in _said(sure)


def test_a_no_to_did_you_say_wrong_number_after_an_unsure_no_keeps_the_number() -> None:
    # "Is this the right number to reach John?" "no" (unsure, 0.52) "Did you say this is the
    # wrong number?" "no": the debtor says it is not — the same words again are no confirmation.
    session = _session()
    session.hear("no", SURE)
    assert session.state == "not_available"
    turns = session.hear("no", 0.52)
    assert [t.text for t in turns] == ["Did you say this is the wrong number? Please say yes or no."]
    session.hear("no", SURE)
    assert not session.done and session.state == "not_available"
    session.hear("no", 0.52)
    session.hear("yes", SURE)
    assert session.result.disposition is Disposition.WRONG_NUMBER
