"""Messages rendered, guarded and handed to the SMSC per second, on one core.

    .venv/bin/python bench/messages.py [--accounts 2000] [--batch 200] [--runs 3]

Each run sends one SMS reminder to every account of a fresh SQLite store (accounts in New York,
inside their window) through ``Messenger.send``: the facts read, the guard's decisions and the
queued messages written in one transaction per batch, the template rendered, each message handed
to a real Kannel (bearerbox + smsbox with ``smsc = fake``, started here; a reader on the fake
SMSC's socket takes the messages), and the statuses written back.  This process is pinned to one
core (Kannel runs in its own processes).  Rows:

  sms via Kannel     the whole path, per message
  sms via SMPP       the same path handing each message straight to an SMSC over SMPP 3.4
                     (``dialer.messaging.smpp``, aiosmpplib) — the smpp34 server of the tests
                     (tests/smpp_sim.py) — counted when its submit_sm_resp is back; its delivery
                     receipts are written to the store by the same process while it sends
                     (the next row drops them: the hand-over alone)
  guard + render     the same path handing to an adapter that only counts (what duncall itself costs)

The gateways (Kannel, the SMSC) run on the other core when there is one, so the row measures
duncall's core.  Kannel's delivery reports go to a closed port (no console runs here), as
Kannel's retries of them are not duncall's cost.  Target from the issue: ≥ 500 messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.messaging.guard import MessageGuard
from dialer.messaging.kannel import KannelConfig, KannelSender
from dialer.messaging.model import Channel, MessageStatus, Outgoing, SendResult
from dialer.messaging.send import Adapter, Messenger, apply_receipts
from dialer.messaging.smpp import SmppConfig, SmppSender
from dialer.messaging.templates import TemplateSet
from dialer.policy.config import load_preset
from dialer.store.db import open_engine
from dialer.store.models import Account, Creditor, Phone

AT = dt.datetime(2026, 12, 9, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
SIMULATOR = Path(__file__).resolve().parent.parent / "tests" / "smpp_sim.py"

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
log-level = 2
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {fake}
connect-allow-ip = 127.0.0.1
our-host = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
global-sender = 10086
log-file = "{logs}/smsbox.log"
immediate-sendsms-reply = true
log-level = 2

group = sendsms-user
username = bench
password = bench-pw
max-messages = 10
concatenation = true
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


GATEWAY_CORES = {1} if (os.cpu_count() or 1) > 1 else {0}


def _other_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, GATEWAY_CORES)


def start(cmd: list[str]) -> subprocess.Popen[bytes]:
    """A gateway daemon in its own process, on the other core (Popen only starts it)."""
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_other_core)


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def seed(url: str, n: int) -> list[str]:
    engine = open_engine(url)
    ids = [f"B-{i:06d}" for i in range(n)]
    with Session(engine) as db, db.begin():
        db.add(
            Creditor(
                creditor_id="acme", name="Acme Lending", names={}, callback_number="+18005550123", scripts={}
            )
        )
        db.flush()
        for account_id in ids:
            db.add(
                Account(
                    account_id=account_id,
                    first_name="Ann",
                    last_name="Lee",
                    timezone="America/New_York",
                    language="en",
                    balance=Decimal("250.00"),
                    currency="USD",
                    payment_history=[],
                    creditor_id="acme",
                )
            )
        db.flush()
        for i, account_id in enumerate(ids):
            db.add(
                Phone(
                    account_id=account_id,
                    number=f"+1212{5000000 + i:07d}",
                    position=0,
                    phone_type="mobile",
                    ai_voice_consent=False,
                    consent_date=None,
                    contact_type="debtor",
                )
            )
    engine.dispose()
    return ids


class Counting:
    channel = Channel.SMS

    def __init__(self) -> None:
        self.count = 0

    async def send(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        self.count += len(messages)
        return [SendResult(m.message_id, MessageStatus.SENT) for m in messages]


async def drain(reader: asyncio.StreamReader, seen: list[int]) -> None:
    while await reader.readline():
        seen[0] += 1


async def run_once(
    url: str, ids: list[str], make: Callable[[Engine], Adapter], batch: int
) -> tuple[float, int]:
    engine = open_engine(url)
    adapter = make(engine)
    messenger = Messenger(
        engine,
        MessageGuard(engine, load_preset("us"), clock=lambda: AT),
        TemplateSet(),
        {Channel.SMS: adapter},
        clock=lambda: AT,
        batch=batch,
    )
    start = time.perf_counter()
    summary = await messenger.send(ids, Channel.SMS, "reminder")
    elapsed = time.perf_counter() - start
    if isinstance(adapter, SmppSender):
        await adapter.close()
    engine.dispose()
    # A refusal is an answer too (the test SMSC refuses numbers ending in 999): the message was handed over.
    return elapsed, summary.sent + summary.failed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--rows", default="kannel,smpp,smpp-bare,counting", help="which rows, comma-separated"
    )
    args = parser.parse_args()
    rows = set(args.rows.split(","))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    if shutil.which("bearerbox") is None:
        raise SystemExit("Kannel is not installed: run tools/setup.sh")
    with tempfile.TemporaryDirectory() as tmp:
        ports = {k: free_port() for k in ("admin", "smsbox", "fake", "sendsms")}
        conf = Path(tmp) / "kannel.conf"
        conf.write_text(KANNEL_CONF.format(**ports, logs=tmp), encoding="utf-8")
        procs = [start(["bearerbox", str(conf)])]
        wait_port(ports["fake"])
        reader, writer = await asyncio.open_connection("127.0.0.1", ports["fake"])
        seen = [0]
        drainer = asyncio.create_task(drain(reader, seen))
        procs.append(start(["smsbox", str(conf)]))
        wait_port(ports["sendsms"])
        smsc_port = free_port()
        procs.append(start([sys.executable, str(SIMULATOR), str(smsc_port), f"{tmp}/smsc.jsonl"]))
        wait_port(smsc_port)
        kannel = KannelSender(
            KannelConfig(
                sendsms_url=f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms",
                username="bench",
                password="bench-pw",
                callback_base=f"http://127.0.0.1:{free_port()}",  # closed: see the docstring
                callback_token="bench",
            )
        )
        try:

            def smpp(engine: Engine) -> SmppSender:
                return SmppSender(
                    SmppConfig("127.0.0.1", smsc_port, "bench", "bench-pw", sender="10086"),
                    lambda receipts: apply_receipts(engine, receipts),
                )

            def smpp_unwritten(engine: Engine) -> SmppSender:
                return SmppSender(SmppConfig("127.0.0.1", smsc_port, "bench", "bench-pw", sender="10086"))

            makers: list[tuple[str, str, Callable[[Engine], Adapter]]] = [
                ("kannel", "sms via Kannel", lambda engine: kannel),
                ("smpp", "sms via SMPP", smpp),
                ("smpp-bare", "  receipts unwritten", smpp_unwritten),
                ("counting", "guard + render", lambda engine: Counting()),
            ]
            for row, label, make in makers:
                if row not in rows:
                    continue
                rates = []
                for run in range(args.runs):
                    url = f"sqlite:///{tmp}/{label.replace(' ', '_')}-{run}.db"
                    ids = seed(url, args.accounts)
                    elapsed, sent = await run_once(url, ids, make, args.batch)
                    assert sent == args.accounts, f"only {sent} of {args.accounts} sent"
                    rates.append(sent / elapsed)
                print(
                    f"{label:<16} {args.accounts} messages × {args.runs} runs: "
                    + ", ".join(f"{r:,.0f}/s" for r in rates)
                )
            await asyncio.sleep(1.0)
            print(f"fake SMSC received {seen[0]} messages")
        finally:
            drainer.cancel()
            writer.close()
            for p in reversed(procs):
                p.terminate()
                p.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
