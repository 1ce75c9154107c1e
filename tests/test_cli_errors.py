"""Ordinary mistakes get one line and an exit code from docs/cli.md's table, never a traceback."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from duncall import cli
from duncall.cli import main
from duncall.passwords import check_password
from foundation.errors import InputError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
DUNCALL = str(Path(sys.executable).with_name("duncall"))


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("duncall: error: "), lines[0]
    return lines[0]


def test_log_level_in_any_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--log-level", "debug", "guard", "check"]) == 0
    assert main(["--log-level", "Info", "guard", "check"]) == 0
    with pytest.raises(SystemExit) as exc:
        main(["--log-level", "loud", "guard", "check"])
    assert exc.value.code == 2


def test_an_unwritable_rejects_path_is_said_before_importing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    bad = tmp_path / "missing" / "r.csv"
    src = str(ROOT / "examples" / "accounts-with-errors.csv")
    assert main(["accounts", "import", "--db", db, "--no-progress", "--rejects", str(bad), src]) == 2
    assert "the directory" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "x.db").exists()  # refused before the store was opened


def test_a_zero_byte_csv_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert (
        main(["accounts", "import", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--no-progress", str(empty)])
        == 2
    )
    assert "is empty (0 bytes)" in _one_error_line(capsys.readouterr().err)
    header_only = tmp_path / "header.csv"
    header_only.write_text((ROOT / "examples" / "accounts.csv").read_text().splitlines()[0] + "\n")
    assert (
        main(
            [
                "accounts",
                "import",
                "--db",
                f"sqlite:///{tmp_path / 'x.db'}",
                "--no-progress",
                str(header_only),
            ]
        )
        == 2
    )
    assert "has no account rows" in capsys.readouterr().err


def test_a_file_that_is_no_database_and_a_directory_that_cannot_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notdb = tmp_path / "notes.sqlite"
    notdb.write_text("shopping list\n" * 200)
    assert main(["accounts", "show", "A-1", "--db", f"sqlite:///{notdb}"]) == 2
    assert "is not a duncall database" in _one_error_line(capsys.readouterr().err)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["accounts", "show", "A-1", "--db", f"sqlite:///{blocker}/sub/x.db"]) == 2
    assert "cannot make the directory" in _one_error_line(capsys.readouterr().err)


def test_a_malformed_redis_url(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DUNCALL_REDIS_URL", "redis//:secret@127.0.0.1:6379")
    assert main(["guard", "rebuild"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "DUNCALL_REDIS_URL is not a Redis URL" in line and "secret" not in line


def test_output_piped_to_head_ends_quietly() -> None:
    request = json.dumps({"phone": "+12125550123", "at": "2026-03-10T15:00:00Z"}) + "\n"
    proc = subprocess.run(
        f"{DUNCALL} guard explain | head -1",
        shell=True,
        input=request * 20_000,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        executable="/bin/bash",
    )
    assert proc.stdout.count("\n") == 1
    assert proc.stderr == "", proc.stderr


@pytest.mark.parametrize("currency", ["ABC", "RMB", "XDD"])
def test_three_letters_are_not_yet_a_currency(tmp_path: Path, currency: str) -> None:
    from dialer.accounts.importer import import_file
    from dialer.store.testing import temporary_database

    path = tmp_path / "a.csv"
    path.write_text(
        "account_id,first_name,last_name,phones,timezone,language,balance,currency,due_date\n"
        f"X-1,Ann,Lee,+12125550123:mobile:no,America/New_York,en,10.00,{currency},2026-10-01\n"
        "X-2,Bob,Lee,+12125550124:mobile:no,America/New_York,en,10.00,eur,2026-10-01\n"
    )
    with temporary_database("sqlite", tmp_path) as engine:
        summary = import_file(engine, path)
    assert summary.rejected == 1 and "is not an ISO 4217 code" in summary.rejects_sample[0].reason


def test_a_payment_in_no_currency_is_refused() -> None:
    from dialer.payments.records import PaymentError, _currency

    assert _currency("cny") == "CNY"
    with pytest.raises(PaymentError, match="not an ISO 4217"):
        _currency("RMB")


@pytest.mark.parametrize("password", [" " * 10, "1234567890", "password123", "qwertyuiop", "aaaaaaaaaaaa"])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(InputError):
        check_password(password, ["root"])


def test_a_passphrase_is_accepted() -> None:
    check_password("correct horse battery staple", ["root"])


def test_users_add_refuses_a_common_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "AREAS", tuple(dict.fromkeys((*cli.AREAS, "serve"))))
    monkeypatch.setattr(sys, "stdin", io.StringIO("1234567890\n"))
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["users", "add", "root", "--role", "admin", "--db", db]) == 2
    assert "too weak" in _one_error_line(capsys.readouterr().err)


class _Classifier:
    def __init__(self, langs: tuple[str, ...]) -> None:
        self.langs = langs

    def preload(self) -> None:
        return None

    def understand(self, text: str, lang: str, today: Any, grammar: Any = None) -> Any:
        slots = SimpleNamespace(date=None, amount=None)
        return SimpleNamespace(text=text, intent="affirm", confidence=0.9, slots=slots, also=())


class _Stdin(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def test_nlu_classify_keeps_one_output_line_per_input_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bot.nlu.classifier

    monkeypatch.setattr(bot.nlu.classifier, "NluClassifier", _Classifier)
    raw = b"yes\n\n\x01\x02\xff\xfe\n   \n!!!\nok fine\n"
    monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO(raw), encoding="utf-8"))
    assert main(["nlu", "classify", "--lang", "en"]) == 2
    captured = capsys.readouterr()
    out = [json.loads(line) for line in captured.out.splitlines()]
    assert len(out) == 6
    assert out[0]["intent"] == "affirm" and out[5]["text"] == "ok fine"
    assert out[1] == {"line": 2, "empty": True} and out[3] == {"line": 4, "empty": True}
    assert out[2]["line"] == 3 and "not text" in out[2]["error"]
    assert out[4]["line"] == 5 and "no words" in out[4]["error"]
    assert "reading stdin" in captured.err  # stdin was a terminal: the hint says so


def test_guard_explain_hints_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO(b""), encoding="utf-8"))
    assert main(["guard", "explain"]) == 0
    assert "reading stdin: one JSON request per line" in capsys.readouterr().err


def test_serve_says_where_and_how_to_make_the_first_admin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from duncall.cli.serve import _say_where
    from duncall.console.settings import ConsoleSettings

    _say_where("127.0.0.1", 8765, ConsoleSettings(database_url=f"sqlite:///{tmp_path / 'c.db'}"))
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8765/" in out
    assert "duncall users add NAME --role admin" in out


def test_serve_refuses_a_public_address_without_a_tls_proxy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DUNCALL_CONSOLE_TLS_PROXY", raising=False)
    db = f"sqlite:///{tmp_path / 'console.db'}"
    code = main(["serve", "--host", "0.0.0.0", "--port", "18099", "--db", db])
    line = _one_error_line(capsys.readouterr().err)
    assert code != 0
    assert "beyond this machine, over plain HTTP" in line and "DUNCALL_CONSOLE_TLS_PROXY=1" in line
