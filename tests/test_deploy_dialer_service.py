"""The dialer service (``python -m duncall.service.dialer``) as a container runs it.

A failed campaign run (a service away) is retried at the next turn instead of ending the
container, and SIGTERM (``docker compose stop``) ends the loop with exit 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real process, started twice over: about 20 s on a loaded machine


def test_dialer_service_retries_a_failed_run_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    # Redis away: each run fails with exit 3 (a service), which the loop retries; SIGTERM ends it.
    env = {
        **os.environ,
        "DUNCALL_HOME": str(tmp_path),
        "DUNCALL_REDIS_URL": "redis://127.0.0.1:1/0",
        "DUNCALL_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "DUNCALL_ARI_URL": "http://127.0.0.1:1",
        "DUNCALL_ARI_USER": "duncall",
        "DUNCALL_ARI_PASSWORD": "not-a-real-password",
        "DUNCALL_LOG_LEVEL": "INFO",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "dialer.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "duncall.service.dialer", "--every", "5", "--", "--campaign", "c",
             "--endpoint", "PJSIP/{number}@carrier"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while "run=2 exit_code=3" not in log.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.5)
            assert "run=2 exit_code=3" in log.read_text(), "the loop did not run the campaign again"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert log.read_text().count("Redis is not reachable") >= 2
