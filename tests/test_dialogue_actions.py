"""The bot keeps its word: a prompt that announces an action is bound to it, and the action
happens when the call can do it, or the script's true alternative is said instead."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from fakes.action_ports import FakeActionPorts, nothing_available
from fakes.classifier import KeywordClassifier

from bot.dialogue import DialogueSession, load_script
from bot.dialogue.loader import check_script
from bot.dialogue.types import Action
from bot.dialogue.vocabulary import announced_actions
from foundation import paths
from foundation.contract import AccountView, Disposition
from foundation.errors import InputError

pytestmark = pytest.mark.unit

TODAY = dt.date(2027, 3, 3)

# Verified on "yes"; "human" asks for a transfer, "link" for a payment link.
TINY = """\
script: tiny
lang: en
start: greeting
defaults:
  no_input: {retries: 1, say: "Sorry?", goto: bye}
  no_match: {retries: 1, say: "Pardon?", goto: bye}
global:
  request_human: transfer_agent
voicemail:
  say: "Hello, this is Sam for {first_name}. Please call me back at {callback_number}."
states:
  greeting:
    say: "Hello, may I speak with {full_name}?"
    on:
      affirm: verified
      deny: wrong_number
  wrong_number:
    action: suppress_number
    say: "Sorry. We won't call this number again. Goodbye."
    end: wrong_number
  verified:
    action: verify_right_party
    next: disclosure
  disclosure:
    action: disclose
    say:
      - text: "This is an attempt to collect a debt, and any information obtained will be used
          for that purpose. This call is from a debt collector."
        interruptible: false
    next: offer
  offer:
    say: "Would you like a link? Press 1 for yes."
    on:
      affirm: send_link
      deny: bye
  send_link:
    action: send_payment_link
    channel: sms
    say: "I have sent you a link."
    otherwise:
      say: "I can't send a link right now. You can pay by calling us at {callback_number}."
      goto: bye
    next: bye
  transfer_agent:
    action: transfer
    queue: collections
    otherwise: {goto: no_transfer}
    say: "Please hold while I transfer you."
    end: transferred
  no_transfer:
    action: schedule_callback
    say: "I can't transfer you right now. We will call you back on {callback_date}. Goodbye."
    end: callback
  bye:
    say: "Goodbye."
    end: refused
"""


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "tiny.en.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = check_script(path)
    return [p.message for p in problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def account() -> AccountView:
    return AccountView(
        account_id="A-1",
        first_name="Susan",
        last_name="Taylor",
        language="en",
        balance=Decimal("975.25"),
        currency="USD",
        due_date=dt.date(2027, 2, 1),
        days_past_due=30,
        creditor="Acme Lending",
        callback_number="+18005550100",
    )


def test_the_bound_script_passes(tmp_path: Path) -> None:
    assert problems_of(tmp_path, TINY) == []


def test_an_announced_link_with_no_binding_is_refused(tmp_path: Path) -> None:
    text = TINY.replace("    action: send_payment_link\n    channel: sms\n", "").replace(
        "    otherwise:\n      say: \"I can't send a link right now. You can pay by calling us at "
        '{callback_number}."\n      goto: bye\n',
        "",
    )
    path = tmp_path / "tiny.en.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = check_script(path)
    assert [(p.line, p.message) for p in problems] == [
        (
            line_of(text, "I have sent you a link"),
            "state 'send_link' says 'sent you a link' but does not do it; bind it with "
            "`action: send_payment_link` or say something true",
        )
    ]


@pytest.mark.parametrize(
    ("state_line", "phrase", "action"),
    [
        (
            "action: transfer\n    queue: collections\n    otherwise: {goto: no_transfer}\n",
            "hold while",
            "transfer",
        ),
        ("action: suppress_number\n", "won't call this number", "suppress_number"),
        ("action: schedule_callback\n", "call you back", "schedule_callback"),
    ],
)
def test_each_unbound_announcement_is_refused(
    tmp_path: Path, state_line: str, phrase: str, action: str
) -> None:
    text = TINY.replace(f"    {state_line}", "", 1)
    found = problems_of(tmp_path, text)
    assert any(f"says {phrase!r} but does not do it; bind it with `action: {action}`" in p for p in found), (
        found
    )


def test_an_action_that_may_be_unavailable_needs_an_otherwise(tmp_path: Path) -> None:
    text = TINY.replace("    otherwise: {goto: no_transfer}\n", "")
    assert "state 'transfer_agent' does transfer, which a call may not have; add " in "".join(
        problems_of(tmp_path, text)
    )


def test_suppress_number_must_end_wrong_number(tmp_path: Path) -> None:
    text = TINY.replace("    end: wrong_number\n", "    end: refused\n")
    assert "state 'wrong_number' suppresses the number; it must `end: wrong_number`" in problems_of(
        tmp_path, text
    )


def test_otherwise_only_where_an_action_may_be_unavailable(tmp_path: Path) -> None:
    text = TINY.replace(
        "    action: schedule_callback\n", "    action: schedule_callback\n    otherwise: {goto: bye}\n"
    )
    assert any(
        p.startswith("`otherwise` is only read by `offers:` and by actions a call may not have")
        for p in problems_of(tmp_path, text)
    )


@pytest.mark.parametrize(
    ("text", "lang", "found"),
    [
        ("Please hold while I transfer you to a member of our team.", "en", {Action.TRANSFER}),
        ("I'm sorry, I can't transfer you to a person right now.", "en", set()),
        ("We will not call you again.", "en", set()),
        ("I'll make sure we don't call this number again.", "en", {Action.SUPPRESS_NUMBER}),
        ("链接已经发送到您的手机。", "zh", {Action.SEND_PAYMENT_LINK}),
        (
            "抱歉，现在无法为您转接人工客服。我们会在{callback_date}再给您打电话。",
            "zh",
            {Action.SCHEDULE_CALLBACK},
        ),
        ("明白，我们不会再给您打电话了。", "zh", set()),
        ("不好意思，我们会更新记录，不再拨打这个号码。", "zh", {Action.SUPPRESS_NUMBER}),
    ],
)
def test_announcing_wording_per_language(text: str, lang: str, found: set[Action]) -> None:
    assert set(announced_actions(text, lang)) == found


def tiny_session(tmp_path: Path, ports: FakeActionPorts) -> DialogueSession:
    path = tmp_path / "tiny.en.yaml"
    path.write_text(TINY, encoding="utf-8")
    session = DialogueSession(load_script(path), account(), TODAY, KeywordClassifier(), ports=ports)
    session.start()
    return session


def test_the_link_is_sent_and_announced_when_a_channel_exists(tmp_path: Path) -> None:
    ports = FakeActionPorts()
    session = tiny_session(tmp_path, ports)
    session.hear("yes")
    said = [t.text for t in session.hear("yes")]
    assert said == ["I have sent you a link.", "Goodbye."]
    assert [(r.account_id, r.channel) for r in ports.sent] == [("A-1", "sms")]
    assert session.result.actions == ("send_payment_link",)


def test_no_channel_no_link_and_the_true_line_instead(tmp_path: Path) -> None:
    ports = nothing_available()
    session = tiny_session(tmp_path, ports)
    session.hear("yes")
    turns = session.hear("yes")
    assert turns[0].text.startswith("I can't send a link right now. You can pay by calling us at")
    assert turns[-1].text == "Goodbye."
    assert all("sent" not in t.text for t in turns)
    assert turns[0].action is None  # the call loop is not told a link went out
    assert ports.sent == [] and session.result.actions == ()


def test_transfer_when_a_target_exists_is_said_only_once_a_collector_accepted(tmp_path: Path) -> None:
    ports = FakeActionPorts()
    session = tiny_session(tmp_path, ports)
    assert session.hear("I want to talk to a real person") == []  # nothing said while one is sought
    assert session.transfer_wanted == "collections" and not session.done
    assert session.hear("hello?") == [] and session.no_input() == []  # the wait is not a turn
    turns = session.transfer_outcome(True)
    assert turns[-1].action == "transfer" and turns[-1].text == "Please hold while I transfer you."
    assert session.result.disposition is Disposition.TRANSFERRED
    assert session.result.transfer_queue == "collections" and session.result.actions == ("transfer",)
    assert ports.transfers_asked == ["collections"] and session.transfer_wanted is None


def test_no_collector_accepted_takes_the_true_line_never_the_transfer(tmp_path: Path) -> None:
    session = tiny_session(tmp_path, FakeActionPorts())
    session.hear("I want to talk to a real person")
    turns = session.transfer_outcome(False)
    assert [t.text for t in turns] == [
        "I can't transfer you right now. We will call you back on Thursday, March 4th. Goodbye."
    ]
    assert all("hold while" not in t.text for t in session.turns if t.speaker == "bot")
    result = session.result
    assert (result.disposition, result.transfer_queue) == (Disposition.CALLBACK, None)
    assert result.actions == ("schedule_callback",)
    with pytest.raises(InputError):
        session.transfer_outcome(True)  # asked once per transfer


def test_no_transfer_target_says_so_and_schedules_a_callback(tmp_path: Path) -> None:
    ports = nothing_available()
    session = tiny_session(tmp_path, ports)
    turns = session.hear("I want to talk to a real person")
    assert [t.text for t in turns] == [
        "I can't transfer you right now. We will call you back on Thursday, March 4th. Goodbye."
    ]
    assert turns[-1].action == "hangup"
    result = session.result
    assert (result.disposition, result.callback_at, result.transfer_queue) == (
        Disposition.CALLBACK,
        TODAY + dt.timedelta(days=1),
        None,
    )
    assert result.actions == ("schedule_callback",)


def test_wrong_number_records_the_suppression(tmp_path: Path) -> None:
    session = tiny_session(tmp_path, nothing_available())
    session.hear("no")
    assert session.result.disposition is Disposition.WRONG_NUMBER
    assert session.result.actions == ("suppress_number",)


def test_asks_human_on_a_shipped_script_is_offered_a_callback_and_a_yes_keeps_it() -> None:
    script = load_script(paths.scripts_dir() / "early_collection.en.yaml")
    session = DialogueSession(script, account(), TODAY, KeywordClassifier())  # the default: nothing
    session.start()
    session.hear("yes")
    said = [t.text for t in session.hear("I want to talk to a real person")]
    assert said == [
        "No colleague is free right now. Would you like a colleague to phone you tomorrow? "
        "Press 1 for yes or 2 for no."
    ]
    assert not session.done
    said = [t.text for t in session.hear("yes")]
    assert said == ["We will call you back on Thursday, March 4th. Goodbye."]
    assert session.result.disposition is Disposition.CALLBACK
    assert session.result.callback_at == TODAY + dt.timedelta(days=1)
    assert not any("connecting" in t.text.lower() for t in session.turns)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shipped_scripts_connect_only_after_a_collector_accepted(lang: str) -> None:
    script = load_script(paths.scripts_dir() / f"early_collection.{lang}.yaml")
    acct = replace(account(), language=lang, currency="CNY" if lang == "zh" else "USD")
    session = DialogueSession(script, acct, TODAY, KeywordClassifier(), ports=FakeActionPorts())
    session.start()
    session.dtmf("1")
    assert session.hear("我要转人工" if lang == "zh" else "I want to talk to a real person") == []
    # While the desk rings the debtor hears the script's holding line, which promises nothing.
    holding = session.transfer_hold()
    assert [t.text for t in holding] == (["请稍等。"] if lang == "zh" else ["One moment please."])
    assert holding[0].action is None and session.transfer_wanted == "collections"
    said = [t.text for t in session.transfer_outcome(True)]
    assert said == (
        ["现在为您转接人工同事。"] if lang == "zh" else ["I'm connecting you to a colleague now."]
    )
    assert session.result.disposition is Disposition.TRANSFERRED
    assert session.result.actions == ("transfer",)


def test_a_declined_callback_offer_ends_without_a_callback() -> None:
    script = load_script(paths.scripts_dir() / "early_collection.en.yaml")
    session = DialogueSession(script, account(), TODAY, KeywordClassifier(), ports=FakeActionPorts())
    session.start()
    session.hear("yes")
    session.hear("I want to talk to a real person")
    assert session.transfer_outcome(False)[-1].text.startswith("No colleague is free right now.")
    said = [t.text for t in session.dtmf("2")]
    assert said[-1].startswith("All right. You can reach us at")
    assert session.result.disposition is Disposition.REFUSED and session.result.callback_at is None


def test_an_offer_of_a_link_must_be_bound_to_its_availability(tmp_path: Path) -> None:
    offering = TINY.replace(
        "Would you like a link? Press 1 for yes.", "Would you like us to text you a link?"
    )
    assert problems_of(tmp_path, offering) == [
        "state 'offer' offers send_payment_link ('text you a'), which a call may not have; add "
        "`offers: send_payment_link` and an `otherwise:` for when it cannot"
    ]
    bound = offering.replace(
        "  offer:\n    say:", "  offer:\n    offers: send_payment_link\n    otherwise: {goto: bye}\n    say:"
    )
    assert problems_of(tmp_path, bound) == []
    assert "state 'offer' offers send_payment_link, which a call may not have; add " in "".join(
        problems_of(tmp_path, bound.replace("    otherwise: {goto: bye}\n", "", 1))
    )


def promise_call(ports: FakeActionPorts) -> DialogueSession:
    """Early collection: verified, promises 200 on Friday, confirms it."""
    script = load_script(paths.scripts_dir() / "early_collection.en.yaml")
    session = DialogueSession(script, account(), TODAY, KeywordClassifier(), ports=ports)
    session.start()
    session.hear("yes")
    session.hear("I can pay 200 dollars on Friday")
    session.hear("yes")
    return session


def test_no_channel_no_link_is_offered() -> None:
    session = promise_call(nothing_available())
    said = [t.text for t in session.turns if t.speaker == "bot"]
    assert not any("link" in line for line in said), said
    assert session.done and session.result.disposition is Disposition.PROMISE_TO_PAY
    assert said[-1] == "Thank you for your time, Susan. Goodbye."


def test_with_a_channel_the_link_is_offered_and_sent() -> None:
    ports = FakeActionPorts()
    session = promise_call(ports)
    assert session.state == "offer_link" and not session.done
    assert next(t.text for t in session.hear("yes")) == "I have sent the link to your phone."
    assert [(r.amount, r.channel) for r in ports.sent] == [(Decimal("200.00"), "sms")]
    assert session.result.actions == ("send_payment_link",)


def test_asked_how_to_pay_with_no_channel_only_the_phone_is_named() -> None:
    script = load_script(paths.scripts_dir() / "early_collection.en.yaml")
    session = DialogueSession(script, account(), TODAY, KeywordClassifier())
    session.start()
    session.hear("yes")
    said = [t.text for t in session.hear("how can I pay")]
    assert said[0].startswith("You can pay by calling us at ") and "link" not in said[0]


def test_the_alternative_lines_are_among_the_prompts_to_prerender() -> None:
    script = load_script(paths.scripts_dir() / "early_collection.en.yaml")
    session = DialogueSession(script, account(), TODAY, KeywordClassifier())
    session.start()
    assert any("can't send a link right now" in s for s in session.likely_speech())


def test_mandarin_asks_for_a_person_with_no_target_hears_the_true_line_and_gets_a_callback() -> None:
    script = load_script(paths.scripts_dir() / "early_collection.zh.yaml")
    acct = replace(account(), language="zh", currency="CNY")
    session = DialogueSession(script, acct, TODAY, KeywordClassifier())
    session.start()
    session.hear("是我")
    said = [t.text for t in session.hear("我要转人工")]
    assert said == ["现在没有空闲的同事。明天请同事再联系您，可以吗？可以请按1，不用请按2。"]
    said = [t.text for t in session.dtmf("1")]
    assert len(said) == 1 and said[0].startswith("好的，我们会在")
    assert not any("转接" in t.text for t in session.turns if t.speaker == "bot")
    assert session.result.disposition is Disposition.CALLBACK
    assert session.result.callback_at == TODAY + dt.timedelta(days=1)


def test_a_holding_line_is_bound_to_a_transfer_and_never_announces_it(tmp_path: Path) -> None:
    held = TINY.replace(
        "    otherwise: {goto: no_transfer}\n",
        '    otherwise: {goto: no_transfer}\n    hold: "One moment please."\n',
    )
    assert problems_of(tmp_path, held) == []
    early = held.replace('hold: "One moment please."', 'hold: "Please hold while I transfer you."')
    assert any("while the desk still rings" in p for p in problems_of(tmp_path, early))
    stray = TINY.replace(
        '  bye:\n    say: "Goodbye."', '  bye:\n    hold: "One moment please."\n    say: "Goodbye."'
    )
    assert any("`hold` is only said while a transfer's desk rings" in p for p in problems_of(tmp_path, stray))


def test_shipped_holding_lines_are_prerendered() -> None:
    for lang, line in (("en", "One moment please."), ("zh", "请稍等。")):
        script = load_script(paths.scripts_dir() / f"early_collection.{lang}.yaml")
        acct = replace(account(), language=lang, currency="CNY" if lang == "zh" else "USD")
        session = DialogueSession(script, acct, TODAY, KeywordClassifier(), ports=FakeActionPorts())
        session.start()
        assert line in session.likely_speech()
