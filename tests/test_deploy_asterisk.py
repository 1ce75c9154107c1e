"""The production Asterisk configuration loads in a real Asterisk and refuses SIP outside the allow-list.

``tools/check-production-asterisk.sh`` lays out asterisk-config/ with deploy/asterisk-image/etc/
as the production image does, with generated secrets and the example pjsip_local, and runs it
in the sandbox's chroot inside a private mount namespace on other ports (the running sandbox is
not touched). It checks that every module loads (chan_pjsip, ACL, SRTP), the TLS and UDP
transports and the carrier trunk exist with TLS/SRTP/G.711/RFC 4733/PAI, ARI has the generated
user, and a SIP request from an address outside the allow-list gets 403 while an allowed one does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from duncall.sandbox import runtime

pytestmark = pytest.mark.asterisk

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "check-production-asterisk.sh"


@pytest.mark.slow
def test_production_asterisk_config_loads_and_enforces_the_allow_list() -> None:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("nsenter")):
        pytest.skip("needs root, unshare and nsenter (a private mount namespace for the second Asterisk)")
    if not (runtime.sandbox().root / "usr/sbin/asterisk").exists():
        pytest.skip("the Asterisk sandbox is not built (duncall asterisk up)")
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("\nok ") + done.stdout.startswith("ok ") == 8, done.stdout


@pytest.mark.redis
def test_the_dialer_health_probe_passes_with_every_service_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    from duncall.service.health import main

    if not runtime.status()["ari"]:
        pytest.skip("the Asterisk sandbox is not running (duncall asterisk up)")
    monkeypatch.setenv("DUNCALL_REDIS_URL", redis_url)
    monkeypatch.setenv("DUNCALL_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    assert main(["dialer"]) == 0
