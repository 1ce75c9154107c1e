"""Kannel (bearerbox + smsbox, Debian's package) speaking SMPP 3.4 to the test SMSC (``smpp_sim.py``),
and the console that receives its delivery reports: the set-up of the tests that need a carrier
that can fail a message (a refusal at submit, an undeliverable receipt)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy import Engine

from dialer.messaging.kannel import KannelConfig, KannelSender, mo_url
from duncall.console.app import create_app
from duncall.console.settings import ConsoleSettings

TOKEN = "kannel-callback-token-0123456789"
SIMULATOR = Path(__file__).resolve().parent / "smpp_sim.py"

KANNEL_CONF = """
group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = adminpw
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox}
smsbox-interface = 127.0.0.1
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "{logs}/bearerbox.log"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = {smpp}
transceiver-mode = true
smsc-username = duncall
smsc-password = smpp-secret
system-type = ""
source-addr-ton = 0
source-addr-npi = 1
dest-addr-ton = 1
dest-addr-npi = 1
max-pending-submits = 20
reconnect-delay = 2

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
global-sender = 10086
mo-recode = true
log-file = "{logs}/smsbox.log"

group = sendsms-user
username = duncall
password = sms-secret
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = true
max-messages = 0
accept-x-kannel-headers = true
get-url = "{get_url}"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def start(cmd: list[str], quiet: bool = True) -> subprocess.Popen[bytes]:
    """A daemon in the foreground of its own process (Popen only starts it; nothing blocks)."""
    out = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(cmd, stdout=out, stderr=out)


@dataclass(frozen=True)
class Carrier:
    """What reached the SMSC, read from its log: (destination without +, text, verdict)."""

    log: Path

    def received(self) -> list[tuple[str, str, str]]:
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line]
        return [(r["to"], r["text"], r["verdict"]) for r in rows]


@contextlib.asynccontextmanager
async def smpp_simulator(tmp_path: Path) -> AsyncIterator[tuple[int, Carrier]]:
    """The SMSC alone (for an ESME of our own): its port, and what reached it."""
    port = free_port()
    carrier = Carrier(tmp_path / "smsc-direct.jsonl")
    proc = start([sys.executable, str(SIMULATOR), str(port), str(carrier.log)], quiet=False)
    try:
        await asyncio.to_thread(wait_port, port, proc, "the SMPP simulator")
        yield port, carrier
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.asynccontextmanager
async def kannel_over_smpp(tmp_path: Path, console_port: int) -> AsyncIterator[tuple[KannelConfig, Carrier]]:
    ports = {k: free_port() for k in ("admin", "smsbox", "smpp", "sendsms")}
    config = KannelConfig(
        sendsms_url=f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms",
        username="duncall",
        password="sms-secret",
        callback_base=f"http://127.0.0.1:{console_port}",
        callback_token=TOKEN,
    )
    conf = tmp_path / "kannel.conf"
    conf.write_text(KANNEL_CONF.format(**ports, logs=tmp_path, get_url=mo_url(config)), encoding="utf-8")
    carrier = Carrier(tmp_path / "smsc.jsonl")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        smsc = start([sys.executable, str(SIMULATOR), str(ports["smpp"]), str(carrier.log)], quiet=False)
        procs.append(smsc)
        await asyncio.to_thread(wait_port, ports["smpp"], smsc, "the SMPP simulator")
        bearerbox = start(["bearerbox", "-v", "4", str(conf)])
        procs.append(bearerbox)
        await asyncio.to_thread(wait_port, ports["smsbox"], bearerbox, "bearerbox")
        smsbox = start(["smsbox", "-v", "4", str(conf)])
        procs.append(smsbox)
        await asyncio.to_thread(wait_port, ports["sendsms"], smsbox, "smsbox")
        yield config, carrier
    finally:
        # smsbox, then the SMSC, then bearerbox: a bearerbox still bound over SMPP took over 10 s
        # to stop after its first message; once the SMSC has gone it stops at once.
        order = [procs[2], procs[0], procs[1]] if len(procs) == 3 else list(reversed(procs))
        for proc in order:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.asynccontextmanager
async def console(engine: Engine, port: int, sms: KannelSender | None) -> AsyncIterator[None]:
    """The console, where Kannel's delivery reports and replies arrive."""
    app = create_app(ConsoleSettings(messages_callback_token=TOKEN, sms_adapter=sms), engine)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve(), name="console")
    while not server.started:  # noqa: ASYNC110 - uvicorn's Server offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def until(check: object, what: str, wait_s: float = 60.0) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
