"""Bad input and faults give one line saying what is wrong and how to fix it — never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from duncall.personas.model import load_persona
from duncall.sandbox import runtime
from foundation.errors import ConfigError, ServiceUnavailable

REPO = Path(__file__).resolve().parents[1]
DUNCALL = [sys.executable, "-m", "duncall.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DUNCALL, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("duncall: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: x\n  bad: [", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        (
            "name: broken\ndescription: d\nbehaviour: answer\naccount: {account_id: P-1, first_name: a, "
            "last_name: b, phone: '+1', balance: 1}\nexpect: {outcome: maybe}\n",
            "expect.outcome",
        ),
        (
            "name: other\ndescription: d\naccount: {account_id: P-1, first_name: a, last_name: b, phone: '+1', "
            "balance: 1}\nexpect: {outcome: busy}\n",
            "differs from the file name",
        ),
    ],
)
def test_malformed_persona_names_the_file_and_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_persona(path)
    assert str(path) in err.value.one_line()
    assert needle in err.value.one_line()


@pytest.mark.asterisk
def test_demo_with_asterisk_unreachable_is_one_line() -> None:
    proc = run_cli(
        "demo",
        "cooperative",
        env={
            "DUNCALL_ARI_URL": "http://127.0.0.1:1",
            "DUNCALL_ARI_USER": "u",
            "DUNCALL_ARI_PASSWORD": "p",
        },
    )
    assert_one_line_error(proc, "127.0.0.1:1", "duncall asterisk up")


@pytest.mark.asterisk
def test_demo_with_wrong_ari_credentials_is_one_line() -> None:
    proc = run_cli(
        "demo",
        "cooperative",
        env={
            "DUNCALL_ARI_URL": "http://127.0.0.1:8088",
            "DUNCALL_ARI_USER": "duncall",
            "DUNCALL_ARI_PASSWORD": "not-the-password",
        },
    )
    assert_one_line_error(proc, "credentials")


@pytest.mark.redis
def test_demo_with_redis_down_is_one_line() -> None:
    proc = run_cli("demo", "cooperative", env={"DUNCALL_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert_one_line_error(proc, "Redis", "127.0.0.1:1")


@pytest.mark.unit
def test_unknown_persona_is_one_line() -> None:
    proc = run_cli("demo", "nobody_here")
    assert_one_line_error(proc, "nobody_here")


@pytest.mark.asterisk
def test_sandbox_refuses_to_start_on_a_taken_port() -> None:
    # The sandbox's own Asterisk holds 8088 now: a second start must refuse, not fight for it.
    assert runtime.ari_ready()
    with pytest.raises(ServiceUnavailable) as err:
        runtime.start(runtime.sandbox())
    assert "8088" in err.value.one_line() and "taken" in err.value.one_line()


@pytest.mark.asterisk
def test_asterisk_up_is_idempotent_and_status_reports_ari() -> None:
    first = run_cli("asterisk", "up")
    assert first.returncode == 0, first.stderr
    assert "already running" in first.stdout
    status = run_cli("asterisk", "status")
    assert status.returncode == 0 and '"ari": true' in status.stdout
