"""The settings object: every DUNCALL_* variable typed, checked, re-read, documented, secrets hidden."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from foundation import paths
from foundation.errors import ConfigError, ServiceUnavailable
from foundation.services import redis_client
from foundation.settings import ari_settings, get_settings, markdown_table, redact_url

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("foundation", "telephony", "dialer", "bot", "duncall")


def test_docs_table_is_the_generated_one() -> None:
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    begin = "<!-- generated: python -m foundation.settings -->\n"
    table = text[text.index(begin) + len(begin) : text.index("<!-- end generated -->")]
    assert table == markdown_table(), "regenerate the table: python -m foundation.settings"


def test_every_variable_the_code_names_is_documented() -> None:
    documented = set(re.findall(r"`(DUNCALL_[A-Z_<>]+)`", markdown_table()))
    named: set[str] = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            named |= set(re.findall(r"\bDUNCALL_[A-Z][A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8")))
    # Not environment variables: a channel variable set on dialled calls, and a variable's prefix.
    named -= {"DUNCALL_APP", "DUNCALL_TAKEN_OVER_BY", "DUNCALL_VOSK_MODEL"}
    assert named <= documented | {"DUNCALL_VOSK_MODEL_" + s for s in ("KO", "ZH", "EN")}


def test_no_module_reads_a_duncall_variable_itself() -> None:
    pattern = re.compile(r"(os\.environ|getenv)[^\n]*DUNCALL_")
    offenders = [
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if path.name != "settings.py" or path.parent.name != "foundation"
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.setenv("DUNCALL_ASR_STREAMING", "1")
    assert get_settings().asr_streaming is True and paths.home() == tmp_path
    monkeypatch.setenv("DUNCALL_ASR_STREAMING", "0")
    assert get_settings().asr_streaming is False
    monkeypatch.setenv("DUNCALL_ASR_STREAMING", "")  # empty is unset
    assert get_settings().asr_streaming is False


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("DUNCALL_ASR_WORKERS", "17", "DUNCALL_ASR_WORKERS='17': is not a whole number from 0 to 16"),
        ("DUNCALL_LOG_PII", "maybe", "DUNCALL_LOG_PII='maybe': Input should be a valid boolean"),
        ("DUNCALL_LOG_LEVEL", "loud", "DUNCALL_LOG_LEVEL='loud': Input should be 'DEBUG'"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        get_settings()
    line = err.value.one_line()
    assert needle in line and "\n" not in line and "docs/configuration.md" in line


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_REDIS_URL", "redis://:hunter2-secret@127.0.0.1:1/0")
    monkeypatch.setenv("DUNCALL_ARI_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("DUNCALL_DATABASE_URL", "postgresql://u:hunter2-secret@db/x")
    settings = get_settings()
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    with pytest.raises(ServiceUnavailable) as err:
        redis_client()
    assert "hunter2" not in err.value.one_line() and "127.0.0.1:1" in err.value.one_line()


def test_redact_url() -> None:
    assert redact_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact_url("postgresql://u:pw@db/x") == "postgresql://u:***@db/x"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_the_cli_reports_a_bad_variable_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "duncall.cli", "strategy", "check", str(REPO / "strategies" / "default.yaml")],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path), "DUNCALL_LOG_PII": "maybe"},
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("duncall: error: DUNCALL_LOG_PII='maybe'") and proc.stderr.count("\n") == 1


def test_the_sandbox_credentials_take_the_app_name_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A test on the shared sandbox names its own Stasis app, so no other caller takes its events.
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.delenv("DUNCALL_ARI_URL", raising=False)
    monkeypatch.delenv("DUNCALL_ARI_APP", raising=False)
    (tmp_path / "ari.json").write_text(
        '{"base_url": "http://127.0.0.1:8088", "username": "u", "password": "p", "app": "sandbox-app"}'
    )
    assert ari_settings().app == "sandbox-app"
    monkeypatch.setenv("DUNCALL_ARI_APP", "test-calls-1")
    assert ari_settings().app == "test-calls-1"
