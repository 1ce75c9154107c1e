"""Script validation: the JSON Schema and the semantic checks, each problem with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bot.dialogue.loader import check_script, load_script, script_files
from bot.dialogue.model import ScriptError
from bot.dialogue.schema import SCHEMA_PATH
from duncall.cli import main

pytestmark = pytest.mark.unit

# A small valid script; each test breaks one thing in it.  Line numbers below refer to it.
VALID = """\
script: tiny
lang: en
start: greeting
recording_notice: "This call is recorded."
defaults:
  no_input: {retries: 1, say: "Sorry?", goto: bye}
  no_match: {retries: 1, say: "Pardon?", goto: bye}
voicemail:
  say: "Hello, this is Sam for {first_name}. Please call me back at {callback_number}."
states:
  greeting:
    say: "Hello, may I speak with {full_name}?"
    on:
      affirm: verified
      deny: bye
  verified:
    action: verify_right_party
    next: disclosure
  disclosure:
    action: disclose
    say:
      - text: "This is an attempt to collect a debt, and any information obtained will be used
          for that purpose. This call is from a debt collector."
        interruptible: false
    next: balance
  balance:
    action: state_balance
    say: "Your balance is {balance}."
    next: bye
  bye:
    say: "Goodbye."
    end: refused
"""


def write(tmp_path: Path, text: str, name: str = "tiny.en.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    _, problems = check_script(write(tmp_path, text))
    return [f"{p.line}: {p.message}" for p in problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_valid_script_loads(tmp_path: Path) -> None:
    script = load_script(write(tmp_path, VALID))
    assert script.start == "greeting"
    assert script.states["disclosure"].prompts[0].interruptible is False
    assert script.states["greeting"].prompts[0].interruptible is True


def test_every_shipped_script_is_valid_and_there_are_six() -> None:
    files = script_files()
    names = sorted(f.name for f in files)
    for stem in ("pre_due_reminder", "early_collection", "late_installment"):
        for lang in ("en", "zh"):
            assert f"{stem}.{lang}.yaml" in names
    for file in files:
        _, problems = check_script(file)
        assert problems == [], "\n".join(map(str, problems))


def test_the_schema_is_itself_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def test_unknown_target_state_names_the_line(tmp_path: Path) -> None:
    text = VALID.replace("deny: bye", "deny: good_bye")
    assert problems_of(tmp_path, text) == [f"{line_of(text, 'good_bye')}: unknown target state 'good_bye'"]


def test_unreachable_state(tmp_path: Path) -> None:
    text = VALID + '  orphan:\n    say: "Hi."\n    end: refused\n'
    assert problems_of(tmp_path, text) == [
        f"{line_of(text, 'orphan:')}: state 'orphan' is unreachable from start 'greeting'"
    ]


def test_debt_mentioned_before_verification(tmp_path: Path) -> None:
    text = VALID.replace("affirm: verified", "affirm: balance")
    found = problems_of(tmp_path, text)
    assert any(
        p.startswith(
            f"{line_of(text, '  balance:')}: state 'balance' mentions the debt before right-party "
            "verification (reachable by greeting → balance)"
        )
        for p in found
    ), found


def test_debt_words_count_even_without_a_placeholder(tmp_path: Path) -> None:
    text = VALID.replace(
        '"Hello, may I speak with {full_name}?"', '"Hello, this is about your overdue loan."'
    )
    found = problems_of(tmp_path, text)
    assert (
        f"{line_of(text, '  greeting:')}: state 'greeting' mentions the debt before right-party verification"
        in (" ".join(found).split(" (reachable")[0])
    ), found


def test_missing_disclosure_before_balance(tmp_path: Path) -> None:
    text = VALID.replace("next: disclosure", "next: balance").replace(
        "  disclosure:\n    action: disclose", "  disclosure:\n    action: disclose"
    )
    found = problems_of(tmp_path, text)
    assert any(
        p.startswith(
            f"{line_of(text, '  balance:')}: state 'balance' talks about the debt before the required "
            "disclosure"
        )
        for p in found
    ), found


def test_disclosure_must_not_be_interruptible(tmp_path: Path) -> None:
    text = VALID.replace("interruptible: false", "interruptible: true")
    line = line_of(text, '- text: "This is an attempt')
    assert problems_of(tmp_path, text) == [f"{line}: the disclosure must be `interruptible: false`"]


def test_disclosure_must_say_the_required_words(tmp_path: Path) -> None:
    text = VALID.replace(" This call is from a debt collector.", "")
    found = problems_of(tmp_path, text)
    assert found == [f"{line_of(text, '    say:')}: the disclosure must say 'debt collector'"] or any(
        "must say 'debt collector'" in p for p in found
    )


def test_voicemail_must_not_reveal_the_debt(tmp_path: Path) -> None:
    text = VALID.replace(
        "Please call me back at {callback_number}.", "Your balance is {balance}; call {callback_number}."
    )
    found = problems_of(tmp_path, text)
    line = line_of(text, "Your balance is {balance}; call")
    assert (
        f"{line}: a voicemail may not say {{balance}}: only a name, a request to call back and a number"
        in found
    )
    assert (
        f"{line}: a voicemail must not reveal debt collection (limited-content message, Reg F §1006.2(j))"
        in found
    )


def test_unknown_placeholder(tmp_path: Path) -> None:
    text = VALID.replace("Your balance is {balance}.", "Your balance is {balanse}.")
    found = problems_of(tmp_path, text)
    assert any(
        p.startswith(f"{line_of(text, '{balanse}')}: unknown placeholder {{balanse}}") for p in found
    ), found


def test_schema_errors_point_at_the_offending_key(tmp_path: Path) -> None:
    text = VALID.replace("    action: state_balance\n", '    action: state_balance\n    sayy: "x"\n')
    assert problems_of(tmp_path, text) == [f"{line_of(text, 'sayy')}: states.balance: unknown key 'sayy'"]
    text = VALID.replace("      affirm: verified", "      yes_please: verified")
    found = problems_of(tmp_path, text)
    assert found == [
        f"{line_of(text, 'yes_please')}: states.greeting.on: unknown name 'yes_please'; use one of affirm, "
        "deny, wrong_number, third_party, promise_to_pay, already_paid, dispute, hardship, "
        "request_installment, "
        "callback_later, request_human, ask_amount, ask_payment_method, stop_calling, refuse_to_pay, "
        "abusive, attorney, bankruptcy, repeat, ask_identity, out_of_scope"
    ]
    text = VALID.replace("end: refused", "end: refused_to_pay")
    assert problems_of(tmp_path, text)[0].startswith(
        f"{line_of(text, 'refused_to_pay')}: states.bye.end: 'refused_to_pay' is not one of promise_to_pay, "
    )


def test_a_state_must_listen_go_on_or_end(tmp_path: Path) -> None:
    text = VALID.replace('    say: "Goodbye."\n    end: refused\n', '    say: "Goodbye."\n')
    assert problems_of(tmp_path, text) == [
        f"{line_of(text, '  bye:')}: state 'bye' must have exactly one of `on` (wait for the debtor), "
        "`next` (go straight on) or `end` (finish with a disposition)"
    ]


def test_dtmf_keys_must_map_to_handled_intents(tmp_path: Path) -> None:
    text = VALID.replace("      deny: bye\n", '      deny: bye\n    dtmf: {"1": affirm, "9": dispute}\n')
    assert problems_of(tmp_path, text) == [
        f"{line_of(text, 'dtmf:')}: key 9 means dispute but state 'greeting' does not handle dispute"
    ]


def test_yaml_syntax_and_duplicate_keys(tmp_path: Path) -> None:
    text = VALID.replace("      deny: bye\n", "      deny: [bye\n")
    found = problems_of(tmp_path, text)
    assert len(found) == 1 and found[0].split(":")[1].strip().startswith("YAML syntax"), found
    text = VALID.replace("      deny: bye\n", "      deny: bye\n      deny: verified\n")
    assert problems_of(tmp_path, text) == [f"{line_of(text, 'deny: verified')}: duplicate key 'deny'"]


def test_file_name_must_match_script_and_language(tmp_path: Path) -> None:
    path = write(tmp_path, VALID, "tiny.zh.yaml")
    _, problems = check_script(path)
    assert [p.message for p in problems] == [
        "file name tiny.zh.yaml does not match script 'tiny' in 'en'; name it tiny.en.yaml"
    ]


def test_load_script_raises_one_line_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("deny: bye", "deny: nowhere"))
    with pytest.raises(ScriptError) as info:
        load_script(path)
    assert info.value.one_line().startswith(
        f"{path}:{line_of(VALID, 'deny: bye')}: unknown target state 'nowhere'"
    )


def test_flow_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, VALID)
    bad = write(tmp_path, VALID.replace("deny: bye", "deny: nowhere"), "other.en.yaml")
    assert main(["flow", "check", str(good)]) == 0
    assert main(["flow", "check", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:{line_of(VALID, 'deny: bye')}: unknown target state 'nowhere'" in out
    assert "file name other.en.yaml does not match script 'tiny'" in out
    assert "2 scripts checked, 1 with problems, 2 problems" in out
    assert main(["flow", "check"]) == 0
    assert "8 scripts checked, 0 with problems" in capsys.readouterr().out


def test_a_script_without_the_recording_notice_is_refused_where_the_rules_require_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every shipped preset requires telling the debtor the call is recorded; a rules file may say not."""
    silent = write(tmp_path, VALID.replace('recording_notice: "This call is recorded."\n', ""))
    assert main(["flow", "check", str(silent)]) == 1
    out = capsys.readouterr().out
    assert f"{silent}:{line_of(VALID, 'lang: en')}: no recording_notice: the rules require telling" in out
    for preset in ("us", "cn", "uk", "sandbox"):
        assert main(["flow", "check", str(silent), "--rules", preset]) == 1
    capsys.readouterr()
    off = tmp_path / "norecord.yaml"
    off.write_text("name: house\nrecording_notice: false\n", encoding="utf-8")
    assert main(["flow", "check", str(silent), "--rules", str(off)]) == 0
    # A notice that does not say the call is recorded, or that names the debt, is no notice.
    vague = write(
        tmp_path,
        VALID.replace("This call is recorded.", "This call is about your balance."),
        "vague.en.yaml",
    )
    problems = problems_of(tmp_path, vague.read_text(encoding="utf-8"))
    assert any("the recording notice must say 'this call is recorded'" in p for p in problems)
    assert any("no debt in it" in p for p in problems)
