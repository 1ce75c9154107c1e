"""More sandbox Asterisk nodes: a second (third…) Asterisk from the same chroot, on ports of its own.

``duncall asterisk up --node 2`` starts Asterisk from the chroot the primary sandbox uses, with
a configuration directory, run, lib, spool, log and cache directories of its own
(``/etc/asterisk-node2``… inside the chroot) and ports of its own: ARI/HTTP on
``8088 + 100·(N-1)`` (8188 for node 2), RTP ``20000 + 1000·(N-1)`` upwards.  The
configuration is the primary's (``asterisk-config/`` plus the personas' dialplan, the same
generated ARI credentials) with those paths and ports changed; the desk phones and the carrier
trunk stay the primary's (their generated includes are looked for in the node's own lib
directory, where there are none), so no SIP port is opened twice.

The primary is never touched: its configuration, its ``/proc`` mount and its process are left
as they are, and the node's ``down`` stops only the node's process.  It is what the multi-node
test (tests/test_nodes_calls.py) and a demo of ``DUNCALL_ASTERISK_NODES`` run against.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from duncall.sandbox import build, runtime
from foundation.errors import ConfigError, InputError, ServiceUnavailable

MAX_NODE = 9
PORT_STEP = 100
RTP_STEP = 1000
DIRS = ("run", "lib", "spool", "log", "cache")


@dataclass(frozen=True, slots=True)
class Node:
    number: int
    box: runtime.Sandbox

    @property
    def name(self) -> str:
        return f"asterisk-node{self.number}"

    @property
    def port(self) -> int:
        return runtime.ARI_PORT + PORT_STEP * (self.number - 1)

    @property
    def url(self) -> str:
        return f"http://{runtime.ARI_HOST}:{self.port}"

    @property
    def etc(self) -> str:
        """The configuration directory inside the chroot."""
        return f"/etc/{self.name}"

    def inside(self, kind: str) -> str:
        """The node's own ``/var/<kind>/asterisk-nodeN`` inside the chroot."""
        return f"/var/{kind}/{self.name}"

    @property
    def conf(self) -> str:
        return f"{self.etc}/asterisk.conf"

    @property
    def pidfile(self) -> Path:
        return self.box.base / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.box.base / f"{self.name}.log"


def node(number: int) -> Node:
    if not 2 <= number <= MAX_NODE:
        raise InputError(
            f"node {number} is not a sandbox node number",
            f"use --node 2 to {MAX_NODE} (node 1 is the primary sandbox: `duncall asterisk up`)",
        )
    return Node(number, runtime.sandbox())


def node_config(n: Node, files: dict[str, str]) -> dict[str, str]:
    """The primary's configuration files, with the node's directories and ports."""
    out: dict[str, str] = {}
    for name, text in files.items():
        # Generated includes (desk phones, trunk) and every other /var/lib path: the node's own.
        text = text.replace("/var/lib/asterisk/", f"{n.inside('lib')}/")
        out[name] = text
    # ``(!)`` makes the section a template Asterisk does not apply (the primary runs on the built-in
    # paths, which are the same): the node's own paths must be applied.
    conf = out["asterisk.conf"].replace("[directories](!)", "[directories]")
    for key, value in (
        ("astetcdir", n.etc),
        ("astvarlibdir", n.inside("lib")),
        ("astdbdir", n.inside("lib")),
        ("astkeydir", n.inside("lib")),
        ("astspooldir", n.inside("spool")),
        ("astrundir", n.inside("run")),
        ("astlogdir", n.inside("log")),
        ("astcachedir", n.inside("cache")),
    ):
        conf, count = re.subn(rf"(?m)^{key}\s*=>.*$", f"{key} => {value}", conf)
        if count != 1:
            raise ConfigError(
                f"asterisk-config/asterisk.conf has no single {key} line", "restore it from git"
            )
    out["asterisk.conf"] = conf
    http, count = re.subn(r"(?m)^bindport\s*=.*$", f"bindport = {n.port}", out["http.conf"])
    if count != 1:
        raise ConfigError("asterisk-config/http.conf has no single bindport line", "restore it from git")
    out["http.conf"] = http
    start = 20000 + RTP_STEP * (n.number - 1)
    rtp = re.sub(r"(?m)^rtpstart\s*=.*$", f"rtpstart = {start}", out["rtp.conf"])
    out["rtp.conf"] = re.sub(r"(?m)^rtpend\s*=.*$", f"rtpend = {start + RTP_STEP - 1}", rtp)
    return out


def install(n: Node) -> None:
    from duncall.personas import load_personas, render
    from foundation import paths

    generated = {"extensions_personas.conf": render.dialplan(load_personas(paths.personas_dir()))}
    files = node_config(n, runtime._config_files(generated))
    etc = n.box.root / n.etc.lstrip("/")
    staging = etc.with_name(etc.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for name, text in files.items():
        (staging / name).write_text(text)
    os.chmod(staging / "ari.conf", 0o600)
    if etc.exists():
        shutil.rmtree(etc)
    staging.rename(etc)
    for kind in DIRS:
        (n.box.root / n.inside(kind).lstrip("/")).mkdir(parents=True, exist_ok=True)
    (n.box.root / n.inside("spool").lstrip("/") / "recording").mkdir(exist_ok=True)


def _pid(n: Node) -> int | None:
    try:
        pid = int(n.pidfile.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists() or n.conf.encode() not in cmdline.read_bytes():
        return None
    return pid


def ari_ready(n: Node, timeout_s: float = 1.0) -> bool:
    creds = runtime.ensure_credentials()
    try:
        r = httpx.get(
            f"{n.url}/ari/asterisk/info", auth=(creds["username"], creds["password"]), timeout=timeout_s
        )
    except httpx.HTTPError:
        return False
    return r.status_code == 200


def up(number: int) -> str:
    """Start node ``number`` from the primary's chroot (built by ``duncall asterisk up``)."""
    n = node(number)
    if not build.is_built(n.box.root):
        raise ServiceUnavailable("the Asterisk sandbox is not built", "run `duncall asterisk up` first")
    if _pid(n) is not None and ari_ready(n):
        return f"node {number} already running on {n.url}"
    stop(number)
    if runtime._port_holder(n.port):
        raise ServiceUnavailable(
            f"port {runtime.ARI_HOST}:{n.port} is taken by another process",
            f"stop whatever listens there (`ss -ltnp 'sport = :{n.port}'`) or use another --node",
            retryable=False,
        )
    install(n)
    build.mount_proc(n.box.root)  # shared with the primary; mounted once, never unmounted here
    (n.box.root / n.inside("run").lstrip("/") / "asterisk.ctl").unlink(missing_ok=True)
    with n.log.open("ab") as out:
        proc = subprocess.Popen(
            ["chroot", str(n.box.root), "/usr/sbin/asterisk", "-C", n.conf, "-f", "-n"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    n.pidfile.write_text(str(proc.pid))
    deadline = time.monotonic() + runtime.START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceUnavailable(
                f"Asterisk node {number} exited at start with code {proc.returncode}",
                f"see {n.log}",
                retryable=False,
            )
        if ari_ready(n):
            return f"node {number} started on {n.url}"
        time.sleep(0.2)
    raise ServiceUnavailable(
        f"Asterisk node {number} did not answer on ARI within {runtime.START_TIMEOUT_S:.0f} s",
        f"see {n.log}",
    )


def stop(number: int) -> bool:
    """Stop node ``number`` (its process only); False when it was not running."""
    n = node(number)
    pid = _pid(n)
    if pid is None:
        n.pidfile.unlink(missing_ok=True)
        return False
    subprocess.run(
        ["chroot", str(n.box.root), "/usr/sbin/asterisk", "-C", n.conf, "-rx", "core stop now"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    deadline = time.monotonic() + runtime.STOP_TIMEOUT_S
    while time.monotonic() < deadline and _pid(n) is not None:
        time.sleep(0.1)
    if _pid(n) is not None:
        os.killpg(pid, signal.SIGKILL)
        time.sleep(0.2)
    n.pidfile.unlink(missing_ok=True)
    return True


def kill(number: int) -> bool:
    """SIGKILL node ``number``: a node lost at once, as a crash or a pulled cable looks to the dialer."""
    n = node(number)
    pid = _pid(n)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + runtime.STOP_TIMEOUT_S
    while time.monotonic() < deadline and _pid(n) is not None:
        time.sleep(0.05)
    n.pidfile.unlink(missing_ok=True)
    return True
