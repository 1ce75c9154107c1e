"""Every shipped script × every kind of conversation ends with the right disposition and flags.

Conversations are scripted lines fed through ``duncall flow simulate``'s loop with the
keyword classifier from ``tests/fakes`` (the product's classifier is tested in the NLU area).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from fakes.action_ports import FakeActionPorts
from fakes.classifier import KeywordClassifier

from bot.dialogue import DialogueSession, load_script
from bot.dialogue.types import Action
from duncall.cli import main
from duncall.cli.flow import simulate
from foundation import paths
from foundation.contract import AccountFlag, AccountView, Disposition, Intent
from foundation.errors import ConfigError, InputError

pytestmark = pytest.mark.unit

TODAY = dt.date(2027, 3, 3)  # a Wednesday
FRIDAY = dt.date(2027, 3, 5)
SCRIPTS = ("pre_due_reminder", "early_collection", "mid_collection", "late_installment")
LANGS = ("en", "zh")


def account(lang: str, **over: object) -> AccountView:
    base: dict[str, object] = (
        {
            "account_id": "A-1",
            "first_name": "John",
            "last_name": "Smith",
            "language": "en",
            "balance": Decimal("1250.00"),
            "currency": "USD",
            "due_date": dt.date(2027, 3, 20),
            "days_past_due": 0,
            "creditor": "Acme Lending",
            "callback_number": "+18005550100",
        }
        if lang == "en"
        else {
            "account_id": "A-2",
            "first_name": "伟",
            "last_name": "张",
            "language": "zh",
            "balance": Decimal("1250.00"),
            "currency": "CNY",
            "due_date": dt.date(2027, 3, 20),
            "days_past_due": 0,
            "creditor": "安信贷",
            "callback_number": "+8613800138000",
        }
    )
    base.update(over)
    return AccountView(**base)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    lines: dict[str, list[str]]
    disposition: Disposition
    flags: frozenset[AccountFlag] = field(default_factory=frozenset)


CASES: dict[str, Case] = {
    "cooperative_promise": Case(
        {
            "en": ["yes, speaking", "I can pay 200 dollars on Friday", "yes", "#dtmf 1"],
            "zh": ["是我", "我周五可以还200元", "对", "#dtmf 1"],
        },
        Disposition.PROMISE_TO_PAY,
    ),
    "already_paid": Case(
        {"en": ["yes", "I already paid it last week"], "zh": ["是我", "我上周已经还了"]},
        Disposition.ALREADY_PAID,
    ),
    "dispute": Case(
        {"en": ["yes this is John", "that's not my debt, I dispute it"], "zh": ["是我", "这不是我欠的"]},
        Disposition.DISPUTE,
        frozenset({AccountFlag.DISPUTE}),
    ),
    "hardship_installment": Case(
        {
            "en": ["yes", "I lost my job and can't afford it", "yes that works", "no"],
            "zh": ["是我", "我失业了，还不起", "可以", "不用"],
        },
        Disposition.INSTALLMENT_PLAN,
    ),
    "wrong_number": Case({"en": ["sorry, wrong number"], "zh": ["你打错了"]}, Disposition.WRONG_NUMBER),
    "third_party_spouse": Case(
        {"en": ["this is his wife, he's not here right now"], "zh": ["我是他老婆，他不在家"]},
        Disposition.THIRD_PARTY,
    ),
    "asks_for_human": Case(
        {"en": ["yes", "I want to talk to a real person"], "zh": ["是我", "我要转人工"]},
        Disposition.TRANSFERRED,
    ),
    "stop_calling": Case(
        {"en": ["yes", "stop calling me"], "zh": ["是我", "别再打电话了"]},
        Disposition.STOP_CALLING,
        frozenset({AccountFlag.CEASE_CONTACT}),
    ),
    "silence": Case({"en": ["", "", ""], "zh": ["", "", ""]}, Disposition.NO_CONTACT),
    "voicemail": Case({"en": ["#voicemail"], "zh": ["#voicemail"]}, Disposition.NO_CONTACT),
    "abusive": Case(
        {"en": ["yes", "shut up you idiot"], "zh": ["是我", "神经病"]}, Disposition.ABUSIVE_ENDED
    ),
    "attorney": Case(
        {"en": ["yes", "talk to my attorney"], "zh": ["是我", "找我律师"]},
        Disposition.ATTORNEY,
        frozenset({AccountFlag.ATTORNEY}),
    ),
    "bankruptcy": Case(
        {"en": ["yes", "I filed for bankruptcy"], "zh": ["是我", "我已经申请破产了"]},
        Disposition.BANKRUPTCY,
        frozenset({AccountFlag.BANKRUPTCY}),
    ),
    "callback": Case(
        {"en": ["yes", "I'm busy right now, call me back tomorrow"], "zh": ["是我", "我在忙，明天再打给我"]},
        Disposition.CALLBACK,
    ),
    "refuses": Case({"en": ["yes", "I won't pay"], "zh": ["是我", "我不会还的"]}, Disposition.REFUSED),
}


@dataclass
class Run:
    session: DialogueSession
    output: list[str]
    result_json: dict[str, object]
    ports: FakeActionPorts

    @property
    def bot_lines(self) -> list[str]:
        return [line.removeprefix("bot: ") for line in self.output if line.startswith("bot: ")]


def run(
    script_name: str,
    lang: str,
    lines: list[str],
    acct: AccountView | None = None,
    ports: FakeActionPorts | None = None,
) -> Run:
    """The conversation with links and transfers available unless ``ports`` says otherwise."""
    script = load_script(paths.scripts_dir() / f"{script_name}.{lang}.yaml")
    links = ports if ports is not None else FakeActionPorts()
    session = DialogueSession(script, acct or account(lang), TODAY, KeywordClassifier(), ports=links)
    out = io.StringIO()
    simulate(session, io.StringIO("".join(line + "\n" for line in lines)), out)
    printed = out.getvalue().splitlines()
    return Run(session, printed, json.loads(printed[-1]), links)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("script_name", SCRIPTS)
@pytest.mark.parametrize("kind", sorted(CASES))
def test_conversation_ends_with_expected_disposition(script_name: str, lang: str, kind: str) -> None:
    case = CASES[kind]
    r = run(script_name, lang, case.lines[lang])
    assert r.session.done, f"still in state {r.session.state!r}"
    assert r.result_json["disposition"] == case.disposition.value
    assert r.result_json["flags"] == sorted(f.value for f in case.flags)
    assert r.session.result.disposition is case.disposition
    assert r.session.result.flags == case.flags


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("script_name", SCRIPTS)
def test_promise_is_read_back_and_recorded(script_name: str, lang: str) -> None:
    r = run(script_name, lang, CASES["cooperative_promise"].lines[lang])
    assert r.result_json["promise"] == {"date": "2027-03-05", "amount": "200.00"}
    read_back = "$200.00 on Friday, March 5th" if lang == "en" else "3月5日（星期五）还款200.00元"
    assert any(read_back in line for line in r.bot_lines), r.bot_lines
    # The debtor pressed 1 for the link: one SMS link for the promised amount.
    assert [(x.amount, x.channel) for x in r.ports.sent] == [(Decimal("200.00"), "sms")]


@pytest.mark.parametrize("lang", LANGS)
def test_yes_to_pay_today_promises_the_full_balance_today(lang: str) -> None:
    r = run("early_collection", lang, [CASES["dispute"].lines[lang][0], "#dtmf 1", "#dtmf 1", "#dtmf 2"])
    assert r.result_json["disposition"] == "promise_to_pay"
    assert r.result_json["promise"] == {"date": TODAY.isoformat(), "amount": "1250.00"}
    assert r.ports.sent == []


@pytest.mark.parametrize("lang", LANGS)
def test_pre_due_yes_promises_by_the_due_date(lang: str) -> None:
    r = run("pre_due_reminder", lang, ["#dtmf 1", "#dtmf 1", "#dtmf 1", "#dtmf 2"])
    assert r.result_json["promise"] == {"date": "2027-03-20", "amount": "1250.00"}


@pytest.mark.parametrize("lang", LANGS)
def test_promise_without_a_date_asks_for_one_and_past_dates_are_refused(lang: str) -> None:
    lines = {
        "en": [
            "yes",
            "no",
            "I will pay 300 dollars",
            "I can pay in 60 days",
            "I can pay tomorrow",
            "yes",
            "no",
        ],
        "zh": ["是我", "不行", "我会还300元", "我60天后能还", "我明天可以还", "对", "不用"],
    }[lang]
    r = run("early_collection", lang, lines)
    states = [t.state for t in r.session.turns if t.speaker == "bot"]
    assert (
        states.count("ask_date") == 3
    )  # after "no", after the dateless promise, after the out-of-range date
    assert r.result_json["promise"] == {"date": "2027-03-04", "amount": "300.00"}


@pytest.mark.parametrize("lang", LANGS)
def test_late_stage_negotiates_3_then_6_then_12_installments(lang: str) -> None:
    yes, no = ("yes", "no") if lang == "en" else ("可以", "不行")
    me = "yes" if lang == "en" else "是我"  # "可以" (fine) answers an offer, not "is this you?"
    r = run("late_installment", lang, [me, no, no, no, yes, no], account(lang, balance=Decimal("1250.37")))
    plan = r.session.result.plan
    assert r.result_json["disposition"] == "installment_plan"
    assert plan is not None and plan.count == 12
    assert (plan.amount, plan.last_amount, plan.total) == (
        Decimal("104.00"),
        Decimal("106.37"),
        Decimal("1250.37"),
    )
    assert plan.first_date == TODAY + dt.timedelta(days=7)
    offered = [t.state for t in r.session.turns if t.speaker == "bot" and t.action == Action.OFFER_PLAN]
    assert offered == ["offer_plan_3", "offer_plan_6", "offer_plan_12"]
    three = "3 monthly payments of $416.00" if lang == "en" else "分成3期，每月还416.00元"
    assert any(three in line for line in r.bot_lines), r.bot_lines


@pytest.mark.parametrize("lang", LANGS)
def test_late_stage_all_plans_refused_then_no_date_is_refused(lang: str) -> None:
    yes, no = ("yes", "no") if lang == "en" else ("是我", "不行")
    r = run("late_installment", lang, [yes, no, no, no, no, no])
    assert r.result_json["disposition"] == "refused"
    assert r.result_json["plan"] is None


@pytest.mark.parametrize("lang", LANGS)
def test_transfer_names_the_queue_and_the_last_turn_says_transfer(lang: str) -> None:
    r = run("early_collection", lang, CASES["asks_for_human"].lines[lang])
    assert r.session.result.transfer_queue == "collections"
    last = [t for t in r.session.turns if t.speaker == "bot"][-1]
    assert last.action == "transfer"


def test_callback_date_comes_from_the_debtor() -> None:
    r = run("early_collection", "en", CASES["callback"].lines["en"])
    assert r.result_json["callback_at"] == "2027-03-04"
    assert "Thursday, March 4th" in r.bot_lines[-1]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("script_name", SCRIPTS)
def test_voicemail_is_limited_content(script_name: str, lang: str) -> None:
    acct = account(lang)
    r = run(script_name, lang, ["#voicemail"], acct)
    assert len(r.bot_lines) == 1
    message = r.bot_lines[0]
    assert acct.full_name in message
    assert ("(800) 555-0100" if lang == "en" else "138 0013 8000") in message
    for word in (
        "debt",
        "balance",
        "1,250",
        "owe",
        "payment",
        "collect",
        "Acme",
        "欠款",
        "债务",
        "催收",
        "还款",
        "安信贷",
    ):
        assert word not in message


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("script_name", SCRIPTS)
def test_third_party_never_hears_about_the_debt(script_name: str, lang: str) -> None:
    acct = account(lang)
    r = run(script_name, lang, CASES["third_party_spouse"].lines[lang], acct)
    said = " ".join(r.bot_lines)
    for word in ("debt", "balance", "1,250", "owe", "Acme", "欠款", "债务", "催收", "安信贷"):
        assert word not in said
    assert r.session.result.right_party is False


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("script_name", SCRIPTS)
def test_disclosure_follows_verification_and_cannot_be_interrupted(script_name: str, lang: str) -> None:
    script = load_script(paths.scripts_dir() / f"{script_name}.{lang}.yaml")
    session = DialogueSession(script, account(lang), TODAY, KeywordClassifier())
    notice, *first = session.start()
    assert notice.action == "recording_notice" and notice.interruptible is False
    assert all(t.interruptible for t in first)
    assert session.expected and Intent.AFFIRM in session.expected
    assert session.grammar == "identity"
    turns = session.dtmf("1")
    assert turns[0].action == "disclose" and turns[0].interruptible is False
    assert ("attempt to collect a debt" in turns[0].text) if lang == "en" else ("债务催收" in turns[0].text)
    assert turns[1].action == "state_balance" and turns[1].interruptible
    # The speakable form is for TTS: no "$" or digits of the balance left in it.
    assert "1,250" in turns[1].text and "1,250" not in turns[1].speech
    assert session.grammar == "promise"


def test_low_confidence_and_unknown_input_reprompt_then_give_up() -> None:
    script = load_script(paths.scripts_dir() / "early_collection.en.yaml")
    session = DialogueSession(script, account("en"), TODAY, KeywordClassifier(), ports=FakeActionPorts())
    question = session.start()[-1].text
    turns = session.hear("yes", asr_confidence=0.2)  # heard, but too unsure to act on
    assert [t.text for t in turns] == ["Sorry, I didn't quite get that.", question]
    assert session.state == "greeting"
    assert [t.text for t in session.hear("the weather is nice")][-1] == question
    assert session.hear("banana") == []  # retries exhausted → a collector is sought
    assert session.transfer_wanted == "collections"
    assert session.transfer_outcome(True)[-1].action == "transfer"
    assert session.result.disposition is Disposition.TRANSFERRED
    assert session.hear("yes") == [] and session.no_input() == [] and session.dtmf("1") == []


def test_repeat_says_the_question_again_and_every_turn_is_recorded() -> None:
    script = load_script(paths.scripts_dir() / "early_collection.en.yaml")
    session = DialogueSession(script, account("en"), TODAY, KeywordClassifier(), ports=FakeActionPorts())
    question = session.start()[-1].text
    assert [t.text for t in session.hear("can you repeat that")] == [question]
    session.hear("yes")
    kinds = [(t.speaker, t.event) for t in session.turns]
    assert kinds[:5] == [
        ("bot", "prompt"),  # the recording notice
        ("bot", "prompt"),
        ("debtor", "speech"),
        ("bot", "prompt"),
        ("debtor", "speech"),
    ]
    heard = [t for t in session.turns if t.speaker == "debtor"]
    assert [t.understanding.intent for t in heard if t.understanding] == [Intent.REPEAT, Intent.AFFIRM]
    assert session.result.disposition is Disposition.INCOMPLETE  # hung up mid-call


def test_engine_rejects_misuse() -> None:
    script = load_script(paths.scripts_dir() / "early_collection.en.yaml")
    with pytest.raises(ConfigError, match="speaks 'zh'"):
        DialogueSession(script, account("zh"), TODAY, KeywordClassifier())
    session = DialogueSession(script, account("en"), TODAY, KeywordClassifier())
    with pytest.raises(InputError, match="has not started"):
        session.hear("yes")
    session.start()
    with pytest.raises(InputError, match="not a telephone key"):
        session.dtmf("x")
    with pytest.raises(InputError, match="already started"):
        session.start()


def test_flow_simulate_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    acct = tmp_path / "acct.json"
    acct.write_text(
        json.dumps(
            {
                "account_id": "A-9",
                "first_name": "Ann",
                "last_name": "Lee",
                "language": "en",
                "balance": "80.50",
                "due_date": "2027-02-20",
                "days_past_due": 11,
                "creditor": "Acme Lending",
                "callback_number": "+18005550100",
            }
        )
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\nI can pay on Friday\n#dtmf 1\nno\n"))
    code = main(
        ["flow", "simulate", "early_collection", "--account", str(acct), "--today", TODAY.isoformat()]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "bot: This call is recorded."
    assert out[1] == "bot: Hello, this is Sam. May I speak with Ann Lee? Press 1 if you are Ann, or 2 if not."
    assert (
        "bot: Let me confirm: you will pay $80.50 on Friday, March 5th. Is that correct? "
        "Press 1 for yes or 2 for no." in out
    )
    final = json.loads(out[-1])
    assert {k: final[k] for k in ("disposition", "promise", "flags")} == {
        "disposition": "promise_to_pay",
        "promise": {"date": "2027-03-05", "amount": "80.50"},
        "flags": [],
    }


CREDITOR = "creditor: Acme Lending\ncallback_number: '+18005550100'\n"


def test_flow_simulate_bad_input_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    acct = tmp_path / "acct.yaml"
    acct.write_text(f"account_id: A\nfirst_name: A\nlast_name: B\nlanguage: fr\nbalance: 10\n{CREDITOR}")
    assert main(["flow", "simulate", "early_collection", "--account", str(acct)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "language" in err and "Traceback" not in err
    acct.write_text(f"account_id: A\nfirst_name: A\nlast_name: B\nlanguage: en\nbalance: 10\n{CREDITOR}")
    assert main(["flow", "simulate", "no_such_script", "--account", str(acct)]) == 2
    assert "no script 'no_such_script' in language 'en'" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("#press 1\n"))
    assert (
        main(["flow", "simulate", "early_collection", "--account", str(acct), "--today", "2027-03-03"]) == 2
    )
    assert "unknown command '#press 1'" in capsys.readouterr().err


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("script_name", SCRIPTS)
def test_the_recording_notice_is_said_first_and_never_interrupted(script_name: str, lang: str) -> None:
    """The call loop starts recording once this turn has played (bot/callbot.py)."""
    script = load_script(paths.scripts_dir() / f"{script_name}.{lang}.yaml")
    first = DialogueSession(script, account(lang), TODAY, KeywordClassifier()).start()
    assert ("This call is recorded" if lang == "en" else "本次通话将被录音") in first[0].text
    assert first[0].action == "recording_notice" and first[0].interruptible is False
    assert all(t.action != "recording_notice" for t in first[1:])
