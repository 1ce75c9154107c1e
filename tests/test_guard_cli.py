"""`duncall guard explain` as an auditor runs it: JSON Lines in, one decision per line out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

DUNCALL = str(Path(sys.executable).with_name("duncall"))  # the installed console script


def explain(*lines: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DUNCALL, "guard", "explain", *args],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def req(**fields: object) -> str:
    base: dict[str, object] = {
        "phone": "+12125550123",
        "timezone": None,
        "at": "2026-03-08T13:30:00Z",
        "flags": [],
        "attempts": [],
    }
    base.update(fields)
    return json.dumps(base)


def test_explains_each_line_in_order() -> None:
    attempts = [{"at": "2026-03-08T12:30:00Z", "phone": "+12125550123", "conversation": True}]
    result = explain(
        req(),
        req(at="2026-03-08T11:59:59.999Z"),  # 07:59:59.999 EDT on the DST day
        req(attempts=attempts),
        req(flags=["do_not_call"], voice="bot", consent=False),
        req(voice="bot", consent=True),
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    unsaid = {"not_evaluated": ["consent: no voice field (bot or human) in the request"]}
    assert out == [
        {"allowed": True, "reasons": [], **unsaid},
        {"allowed": False, "reasons": ["outside_window"], **unsaid},
        {"allowed": False, "reasons": ["after_conversation", "min_gap"], **unsaid},
        {"allowed": False, "reasons": ["flag:do_not_call", "no_consent"]},
        {"allowed": True, "reasons": []},
    ]


def test_malformed_lines_are_reported_and_the_rest_still_explained() -> None:
    result = explain(
        req(),
        "{not json",
        req(at="2026-03-08T13:30:00"),  # no offset
        "",  # blank: a line saying so, so output line N still answers input line N
        req(phone="2125550123"),  # not E.164
        req(flags=["do-not-call"]),
        req(timezone="America/NewYork"),
        req(attempts=[{"at": "2026-03-08T12:30:00Z"}]),
        req(surprise=1),
        req(at="2026-03-08T18:00:00Z"),
    )
    assert result.returncode == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 10
    assert out[3] == {"line": 4, "empty": True}
    assert out[0]["allowed"] is True and out[0]["reasons"] == []
    assert out[-1]["allowed"] is True and out[-1]["reasons"] == []
    errors = {o["line"]: o["error"] for o in out if "error" in o}
    assert sorted(errors) == [2, 3, 5, 6, 7, 8, 9]
    assert errors[2].startswith("line 2: not valid JSON")
    assert "has no UTC offset" in errors[3]
    assert "phone: '2125550123' is not an E.164 number" in errors[5]
    assert "unknown flag 'do-not-call'" in errors[6]
    assert "'America/NewYork' is not an IANA time zone" in errors[7]
    assert "attempts[0].phone" in errors[8]
    assert "surprise" in errors[9]
    # Each error is also one line on stderr, without a traceback.
    assert "Traceback" not in result.stderr
    assert "line 5: phone" in result.stderr


def test_rules_file_changes_the_decision(tmp_path: Path) -> None:
    beijing_late = req(phone="+8613812345678", at="2026-01-15T13:30:00Z")  # 21:30 Shanghai
    assert json.loads(explain(beijing_late).stdout)["reasons"] == ["outside_window"]
    assert json.loads(explain(beijing_late, args=("--preset", "cn")).stdout)["allowed"] is True
    rules = tmp_path / "late.yaml"
    rules.write_text("calendar: {weekday: {start: '09:00', end: '22:00'}}\n")
    assert json.loads(explain(beijing_late, args=("--rules", str(rules))).stdout)["allowed"] is True


def test_bad_rules_file_is_a_one_line_error(tmp_path: Path) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text("frequency: {min_gap: soon}\n")
    result = explain(req(), args=("--rules", str(rules)))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "frequency.min_gap" in result.stderr


def test_consent_counts_only_from_its_date_and_for_its_scope() -> None:
    at = "2026-03-10T15:00:00Z"  # 11:00 in New York, 10 March
    result = explain(
        req(at=at, voice="bot", consent=True, consent_date="2026-03-11"),  # tomorrow: not yet
        req(at=at, voice="bot", consent=True, consent_date="2026-03-10"),  # today: in force
        req(at=at, voice="bot", consent=True, consent_date="2026-03-01", consent_scope="sms"),
        req(at=at, voice="bot", consent=True, consent_date="2026-03-01", consent_scope="voice+sms"),
        req(at=at, voice="bot", consent=True, consent_scope="fax"),
    )
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("reasons") for o in out[:4]] == [["no_consent"], [], ["no_consent"], []]
    assert "consent scope 'fax'" in out[4]["error"]
    assert all("not_evaluated" not in o for o in out)
