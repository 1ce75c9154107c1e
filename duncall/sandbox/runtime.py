"""Starting, stopping and configuring the sandbox Asterisk.

``up`` is idempotent: it builds the chroot when missing, installs the current
configuration, and (re)starts Asterisk only when it is not running or its
configuration changed.  It returns once ARI answers with the generated
credentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from duncall.sandbox import build
from foundation import paths
from foundation.errors import ConfigError, ServiceUnavailable
from foundation.settings import ARI_CREDENTIALS_FILE, DEFAULT_ARI_APP

ARI_HOST = "127.0.0.1"
ARI_PORT = 8088
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
ARI_USERNAME = "duncall"


@dataclass(frozen=True, slots=True)
class Sandbox:
    base: Path

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def pidfile(self) -> Path:
        return self.base / "asterisk.pid"

    @property
    def log(self) -> Path:
        return self.base / "asterisk.log"

    @property
    def build_log(self) -> Path:
        return self.base / "build.log"

    @property
    def etc(self) -> Path:
        return self.root / "etc" / "asterisk"

    @property
    def sounds(self) -> Path:
        """Where generated audio goes; ``sound:duncall/<name>`` in ARI and dialplan."""
        return self.root / "usr" / "share" / "asterisk" / "sounds" / "duncall"

    @property
    def config_stamp(self) -> Path:
        return self.base / "config.sha256"


def sandbox() -> Sandbox:
    base = paths.home() / "asterisk"
    base.mkdir(parents=True, exist_ok=True)
    return Sandbox(base)


# --- credentials ----------------------------------------------------------------


def ensure_credentials() -> dict[str, str]:
    """ARI credentials, generated once per machine and never committed."""
    path = paths.home() / ARI_CREDENTIALS_FILE
    if path.exists():
        try:
            data: dict[str, str] = json.loads(path.read_text())
            if data.get("username") and data.get("password"):
                return data
        except ValueError:
            pass
    data = {
        "base_url": f"http://{ARI_HOST}:{ARI_PORT}",
        "username": ARI_USERNAME,
        "password": secrets.token_urlsafe(24),
        "app": DEFAULT_ARI_APP,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return data


# --- configuration ----------------------------------------------------------------


def install_config(box: Sandbox, generated: dict[str, str]) -> str:
    """Replace the chroot's /etc/asterisk with asterisk-config/ plus generated files.

    Returns a digest of everything installed, so callers can tell whether a
    running Asterisk has the current configuration.
    """
    src = paths.asterisk_config_dir()
    if not src.is_dir():
        raise ConfigError(f"{src} is missing", "run duncall from a full checkout of the repository")
    files = _config_files(generated)
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    staging = box.etc.with_name("asterisk.new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for name, text in files.items():
        (staging / name).write_text(text)
    os.chmod(staging / "ari.conf", 0o600)
    dist = box.etc.with_name("asterisk.dist")
    if box.etc.exists() and not dist.exists():
        box.etc.rename(dist)
    elif box.etc.exists():
        shutil.rmtree(box.etc)
    staging.rename(box.etc)
    return digest


# --- process control ----------------------------------------------------------------


def _pid(box: Sandbox) -> int | None:
    try:
        pid = int(box.pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists() or b"asterisk" not in cmdline.read_bytes():
        return None
    return pid


def _port_holder(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((ARI_HOST, port)) == 0


def ari_ready(timeout_s: float = 2.0) -> bool:
    creds = ensure_credentials()
    try:
        r = httpx.get(
            f"{creds['base_url']}/ari/asterisk/info",
            auth=(creds["username"], creds["password"]),
            timeout=timeout_s,
        )
    except httpx.HTTPError:
        return False
    return r.status_code == 200


def is_running() -> bool:
    return _pid(sandbox()) is not None


def start(box: Sandbox) -> None:
    if _port_holder(ARI_PORT):
        raise ServiceUnavailable(
            f"port {ARI_HOST}:{ARI_PORT} is taken by another process",
            f"stop whatever listens there (`ss -ltnp 'sport = :{ARI_PORT}'`) and run `duncall asterisk up` again",
            retryable=False,
        )
    build.mount_proc(box.root)
    for d in (
        "var/run/asterisk",
        "var/log/asterisk",
        "var/spool/asterisk",
        "var/lib/asterisk",
        "var/cache/asterisk",
        "usr/share/asterisk/moh",
        "var/spool/asterisk/recording",
    ):
        (box.root / d).mkdir(parents=True, exist_ok=True)
    from duncall.sandbox import phones  # it uses this module

    # The desk phones' endpoints and the ICE mapping of this machine's current addresses.
    phones.write_generated(box)
    # A stale control socket from a killed Asterisk blocks the new one's CLI.
    (box.root / "var/run/asterisk/asterisk.ctl").unlink(missing_ok=True)
    with box.log.open("ab") as out:
        proc = subprocess.Popen(
            ["chroot", str(box.root), "/usr/sbin/asterisk", "-f", "-n"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    box.pidfile.write_text(str(proc.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceUnavailable(
                f"Asterisk exited at start with code {proc.returncode}",
                f"see {box.log} and {box.root}/var/log/asterisk/messages.log",
                retryable=False,
            )
        if ari_ready(1.0):
            return
        time.sleep(0.2)
    raise ServiceUnavailable(
        f"Asterisk did not answer on ARI within {START_TIMEOUT_S:.0f} s", f"see {box.log}"
    )


def stop(box: Sandbox) -> bool:
    pid = _pid(box)
    if pid is None:
        build.umount_proc(box.root)
        return False
    subprocess.run(
        ["chroot", str(box.root), "/usr/sbin/asterisk", "-rx", "core stop now"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _pid(box) is not None:
        time.sleep(0.1)
    if _pid(box) is not None:
        os.killpg(pid, signal.SIGKILL)
        time.sleep(0.2)
    box.pidfile.unlink(missing_ok=True)
    build.umount_proc(box.root)
    return True


def cli(box: Sandbox, command: str) -> str:
    """Run one Asterisk CLI command in the running sandbox."""
    proc = subprocess.run(
        ["chroot", str(box.root), "/usr/sbin/asterisk", "-rx", command],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    if proc.returncode != 0:
        raise ServiceUnavailable(
            f"Asterisk CLI failed: {proc.stderr.strip() or proc.stdout.strip()}",
            "is the sandbox up? run `duncall asterisk up`",
        )
    return proc.stdout


def up() -> str:
    """Build if needed, install config and audio, start or restart; return what happened."""
    from duncall.personas import load_personas, render

    box = sandbox()
    fresh_build = not build.is_built(box.root)
    if fresh_build:
        build.build(box.root, box.build_log)
    personas = load_personas(paths.personas_dir())
    render.render_audio(personas, box.sounds)
    running = _pid(box) is not None
    old_digest = box.config_stamp.read_text().strip() if box.config_stamp.exists() else ""
    generated = {"extensions_personas.conf": render.dialplan(personas)}
    if running:
        # Compare without touching the running tree first.
        probe = _digest_of(generated)
        if probe == old_digest and ari_ready():
            return "already running"
        stop(box)
    digest = install_config(box, generated)
    box.config_stamp.write_text(digest)
    start(box)
    return ("built and started" if fresh_build else "restarted") if running or fresh_build else "started"


def reload() -> str:
    """Install the current configuration into the running sandbox and reload its dialplan.

    Calls in progress stay up (a restart would drop every engineer's and test's calls).  Only
    the dialplan is reloaded: when another file changed too, the answer says so and the
    stamp is left old, so the next ``up`` restarts to apply it.
    """
    from duncall.personas import load_personas, render

    box = sandbox()
    if _pid(box) is None:
        raise ServiceUnavailable("the Asterisk sandbox is not running", "start it with `duncall asterisk up`")
    personas = load_personas(paths.personas_dir())
    render.render_audio(personas, box.sounds)
    before = _installed(box)
    digest = install_config(box, {"extensions_personas.conf": render.dialplan(personas)})
    after = _installed(box)
    others = sorted(
        n
        for n in set(before) | set(after)
        if not n.startswith("extensions") and before.get(n) != after.get(n)
    )
    cli(box, "dialplan reload")
    if others:
        return f"dialplan reloaded; {', '.join(others)} changed too: `duncall asterisk restart` applies them"
    box.config_stamp.write_text(digest)
    return "dialplan reloaded"


def _installed(box: Sandbox) -> dict[str, str]:
    if not box.etc.is_dir():
        return {}
    return {f.name: f.read_text() for f in box.etc.iterdir() if f.is_file()}


def render_config(out: Path, username: str, password: str) -> list[str]:
    """Write the whole Asterisk configuration (for a production Asterisk) into ``out``."""
    from duncall.personas import load_personas, render

    generated = {"extensions_personas.conf": render.dialplan(load_personas(paths.personas_dir()))}
    files = _config_files(generated, {"username": username, "password": password})
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    os.chmod(out / "ari.conf", 0o600)
    return sorted(files)


def _config_files(generated: dict[str, str], creds: dict[str, str] | None = None) -> dict[str, str]:
    src = paths.asterisk_config_dir()
    creds = creds or ensure_credentials()
    files = {f.name: f.read_text() for f in sorted(src.iterdir()) if f.suffix == ".conf"}
    files["ari.conf"] = (
        (src / "ari.conf.template").read_text().format(username=creds["username"], password=creds["password"])
    )
    files.update(generated)
    return files


def _digest_of(generated: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(_config_files(generated), sort_keys=True).encode()).hexdigest()


def status() -> dict[str, object]:
    box = sandbox()
    pid = _pid(box)
    return {
        "built": build.is_built(box.root),
        "running": pid is not None,
        "pid": pid,
        "ari": ari_ready(1.0) if pid else False,
        "root": str(box.root),
    }
