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
    assert out == [
        {"allowed": True, "reasons": []},
        {"allowed": False, "reasons": ["outside_window"]},
        {"allowed": False, "reasons": ["after_conversation", "min_gap"]},
        {"allowed": False, "reasons": ["flag:do_not_call", "no_consent"]},
        {"allowed": True, "reasons": []},
    ]


def test_malformed_lines_are_reported_and_the_rest_still_explained() -> None:
    result = explain(
        req(),
        "{not json",
        req(at="2026-03-08T13:30:00"),  # no offset
        "",  # blank: skipped
        req(phone="2125550123"),  # not E.164
        req(flags=["do-not-call"]),
        req(timezone="America/NewYork"),
        req(attempts=[{"at": "2026-03-08T12:30:00Z"}]),
        req(surprise=1),
        req(at="2026-03-08T18:00:00Z"),
    )
    assert result.returncode == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 9
    assert out[0] == {"allowed": True, "reasons": []}
    assert out[-1] == {"allowed": True, "reasons": []}
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
