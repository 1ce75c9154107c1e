"""Properties over random conversations: nothing about the debt before right-party verification.

Hypothesis drives every shipped script with random sequences of utterances (the
scripted ones, noise, arbitrary text), silences, key presses, answering machines
and low recognizer confidences, on random balances.  Whatever happens, the
transcript must show that:

* no bot turn said before verification mentions the debt (amount, creditor, debt words);
* verification only ever follows the debtor confirming their identity;
* the balance is never said before the mini-Miranda disclosure;
* a finished conversation has a disposition, and a promise when it says promise_to_pay.

The debt markers here are the test's own list, not the checker's, so a gap in
the checker's word list cannot hide a leak.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

import pytest
from fakes.classifier import KeywordClassifier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dialogue_conversations import CASES

from bot.dialogue import DialogueSession, Script, load_script
from bot.speech import spoken_money
from foundation import paths
from foundation.contract import AccountView, Disposition, Intent

pytestmark = pytest.mark.unit

TODAY = dt.date(2027, 3, 3)
DEBT_MARKERS = {
    "en": ("debt", "balance", "owe", "overdue", "past due", "collect", "Acme Lending", "installment", "$"),
    "zh": ("欠", "债", "催收", "还款", "逾期", "安信贷", "分期", "元"),
}
NOISE = {
    "en": ["", "what?", "hello", "who is this", "no", "yes", "repeat that", "how much do I owe", "maybe"],
    "zh": ["", "什么？", "喂", "你是谁", "不是", "是的", "再说一遍", "我欠多少", "也许吧"],
}


def utterances(lang: str) -> list[str]:
    pool = {line for case in CASES.values() for line in case.lines[lang]}
    return sorted(pool | set(NOISE[lang]))


def event(lang: str) -> st.SearchStrategy[tuple[str, str, float]]:
    said = st.tuples(st.just("hear"), st.sampled_from(utterances(lang)), st.sampled_from([1.0, 0.9, 0.3]))
    typed = st.tuples(st.just("hear"), st.text(max_size=20), st.just(1.0))
    key = st.tuples(st.just("dtmf"), st.sampled_from(list("0123456789*#")), st.just(1.0))
    silence = st.tuples(st.just("no_input"), st.just(""), st.just(1.0))
    machine = st.tuples(st.just("voicemail"), st.just(""), st.just(1.0))
    return st.one_of(said, said, said, typed, key, key, silence, machine)


def account(lang: str, balance: Decimal) -> AccountView:
    if lang == "en":
        return AccountView(
            "A-1",
            "John",
            "Smith",
            "en",
            balance,
            "USD",
            dt.date(2027, 3, 20),
            40,
            creditor="Acme Lending",
            callback_number="+18005550100",
        )
    return AccountView(
        "A-2",
        "伟",
        "张",
        "zh",
        balance,
        "CNY",
        dt.date(2027, 3, 20),
        40,
        creditor="安信贷",
        callback_number="+8613800138000",
    )


@functools.cache
def script_for(script_name: str, lang: str) -> Script:
    return load_script(paths.scripts_dir() / f"{script_name}.{lang}.yaml")


def play(
    script_name: str, lang: str, balance: Decimal, events: list[tuple[str, str, float]]
) -> DialogueSession:
    script = script_for(script_name, lang)
    session = DialogueSession(script, account(lang, balance), TODAY, KeywordClassifier())
    session.start()
    for kind, value, confidence in events:
        if session.done:
            break
        if kind == "hear":
            session.hear(value, asr_confidence=confidence)
        elif kind == "dtmf":
            session.dtmf(value)
        elif kind == "no_input":
            session.no_input()
        else:
            session.voicemail()
    return session


def check_transcript(session: DialogueSession, lang: str, balance: Decimal) -> None:
    amount = spoken_money(balance, "USD" if lang == "en" else "CNY", lang).display
    disclosed = False
    affirmed_identity = False
    for turn in session.turns:
        if turn.speaker == "debtor":
            u = turn.understanding
            # Confirming identity: "yes" (or key 1) while being asked for the debtor by name.
            if turn.state == "greeting" and u is not None and u.intent is Intent.AFFIRM:
                affirmed_identity = True
            continue
        if not turn.right_party:
            leaked = [m for m in DEBT_MARKERS[lang] if m in turn.text] + (
                [amount] if amount in turn.text else []
            )
            assert not leaked, f"said before verification in {turn.state!r}: {turn.text!r} ({leaked})"
        else:
            assert affirmed_identity, f"verified without the debtor confirming identity: {turn.text!r}"
        if turn.action == "disclose":
            disclosed = True
        if amount in turn.text:
            assert disclosed, f"the balance was said before the disclosure: {turn.text!r}"


SCRIPT_LANGS = [
    (s, lang) for s in ("pre_due_reminder", "early_collection", "late_installment") for lang in ("en", "zh")
]


@pytest.mark.parametrize(("script_name", "lang"), SCRIPT_LANGS)
def test_no_debt_before_verification_on_random_paths(script_name: str, lang: str) -> None:
    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        balance=st.decimals(min_value=Decimal("1.00"), max_value=Decimal("99999.99"), places=2),
        events=st.lists(event(lang), max_size=14),
    )
    def prop(balance: Decimal, events: list[tuple[str, str, float]]) -> None:
        session = play(script_name, lang, balance, events)
        check_transcript(session, lang, balance)
        result = session.result
        if session.done:
            assert result.disposition is not Disposition.INCOMPLETE
        else:
            assert result.disposition is Disposition.INCOMPLETE
        if result.disposition is Disposition.PROMISE_TO_PAY:
            assert result.promise is not None
            assert TODAY <= result.promise.date <= TODAY + dt.timedelta(days=session.script.max_promise_days)
            assert Decimal("0") < result.promise.amount <= balance
        if result.disposition is Disposition.INSTALLMENT_PLAN:
            assert result.plan is not None and result.plan.total == balance
        if result.promise is not None or result.plan is not None:
            assert result.right_party

    prop()


def test_the_transcript_check_catches_a_leak() -> None:
    """The oracle above must fail on a transcript that leaks, or the property proves nothing."""
    from types import SimpleNamespace

    from bot.dialogue.types import DialogueTurn

    leak = [DialogueTurn("bot", "prompt", "Hi John, about your balance of $1,250.00", "greeting")]
    with pytest.raises(AssertionError, match="said before verification"):
        check_transcript(SimpleNamespace(turns=leak), "en", Decimal("1250.00"))  # type: ignore[arg-type]
    unverified = [DialogueTurn("bot", "prompt", "Thank you.", "verified", right_party=True)]
    with pytest.raises(AssertionError, match="without the debtor confirming identity"):
        check_transcript(SimpleNamespace(turns=unverified), "en", Decimal("1"))  # type: ignore[arg-type]
