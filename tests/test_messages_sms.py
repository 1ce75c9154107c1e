"""SMS through a real Kannel (bearerbox + smsbox, Debian's package) with its fake SMSC, whose wire
this test speaks: a reminder run to 1,000 accounts goes only to those inside their local window,
e-mail to the same accounts through a real SMTP server (aiosmtpd) likewise, delivery reports come
back to the console's callback and mark messages delivered, and a STOP or 退订 reply stops SMS (not
e-mail) for that debtor before the next send, confirmed once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.messaging.guard import MessageGuard
from dialer.messaging.kannel import KannelConfig, KannelSender, mo_url
from dialer.messaging.model import Channel
from dialer.messaging.send import Messenger
from dialer.messaging.smtp import SmtpConfig, SmtpSender
from dialer.messaging.templates import TemplateSet
from dialer.policy.config import load_preset
from dialer.store.models import (
    Account,
    Creditor,
    MessageAddressRow,
    MessageEventRow,
    MessageRow,
    OptOutRow,
    Phone,
)
from dialer.store.testing import temporary_database
from duncall.console.app import create_app
from duncall.console.settings import ConsoleSettings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bearerbox") is None, reason="Kannel is not installed (tools/setup.sh)"),
]

TOKEN = "kannel-callback-token-0123456789"
NY, SH = "America/New_York", "Asia/Shanghai"
# 14:30 UTC: 09:30 in New York (inside 08:00–21:00), 22:30 in Shanghai (outside).
RUN_AT = dt.datetime(2026, 12, 9, 14, 30, tzinfo=dt.UTC)
N_NY, N_SH = 600, 400
WAIT_S = 90.0


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


def start(cmd: list[str]) -> subprocess.Popen[bytes]:
    """A Kannel daemon in the foreground of its own process (Popen only starts it; nothing blocks)."""
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ny_number(i: int) -> str:
    return f"+1212555{i:04d}"


def sh_number(i: int) -> str:
    return f"+8613800{i:06d}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        with Session(eng) as db, db.begin():
            db.add(
                Creditor(
                    creditor_id="acme",
                    name="Acme Lending",
                    names={"zh": "艾克美"},
                    callback_number="+18005550123",
                    scripts={},
                )
            )
            db.flush()
            for i in range(N_NY + N_SH):
                ny = i < N_NY
                account_id = f"S-{i:04d}"
                db.add(
                    Account(
                        account_id=account_id,
                        first_name="Ann" if ny else "明",
                        last_name="Lee" if ny else "李",
                        timezone=NY if ny else SH,
                        language="en" if ny else "zh",
                        balance=Decimal("250.00"),
                        currency="USD" if ny else "CNY",
                        payment_history=[],
                        creditor_id="acme",
                    )
                )
                db.flush()
                db.add(
                    MessageAddressRow(
                        account_id=account_id,
                        channel="email",
                        address=f"debtor{i}@home.test",
                        kind="personal",
                        position=0,
                    )
                )
                db.add(
                    Phone(
                        account_id=account_id,
                        number=ny_number(i) if ny else sh_number(i),
                        position=0,
                        phone_type="mobile",
                        ai_voice_consent=False,
                        consent_date=None,
                        contact_type="debtor",
                    )
                )
        yield eng


class FakeSmsc:
    """The carrier side of Kannel's ``smsc = fake``: one text line per message over TCP."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.received: list[tuple[str, str]] = []  # (to, decoded text)
        self.task = asyncio.create_task(self._read(), name="fake-smsc-read")

    async def _read(self) -> None:
        while line := await self.reader.readline():
            parts = line.decode().rstrip("\n").split(" ", 3)
            if len(parts) < 4:
                continue
            _, to, kind, data = parts
            text = unquote(data, encoding="utf-16-be") if kind == "ucs-2" else unquote(data)
            self.received.append((to, text))

    async def reply(self, number: str, text: str) -> None:
        """A debtor's reply (MO), sent from ``number`` to the short code."""
        if text.isascii():
            line = f"{number.lstrip('+')} 10086 text {text}\n"
        else:
            line = f"{number.lstrip('+')} 10086 ucs2 {quote(text.encode('utf-16-be'))}\n"
        self.writer.write(line.encode())
        await self.writer.drain()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.writer.close()


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


@contextlib.asynccontextmanager
async def kannel(tmp_path: Path, console_port: int) -> AsyncIterator[tuple[KannelConfig, FakeSmsc]]:
    ports = {k: free_port() for k in ("admin", "smsbox", "fake", "sendsms")}
    config = KannelConfig(
        sendsms_url=f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms",
        username="duncall",
        password="sms-secret",
        callback_base=f"http://127.0.0.1:{console_port}",
        callback_token=TOKEN,
    )
    conf = tmp_path / "kannel.conf"
    conf.write_text(KANNEL_CONF.format(**ports, logs=tmp_path, get_url=mo_url(config)), encoding="utf-8")
    procs: list[subprocess.Popen[bytes]] = []
    smsc: FakeSmsc | None = None
    try:
        bearerbox = start(["bearerbox", "-v", "4", str(conf)])
        procs.append(bearerbox)
        await asyncio.to_thread(wait_port, ports["fake"], bearerbox, "bearerbox")
        smsc = FakeSmsc(*await asyncio.open_connection("127.0.0.1", ports["fake"]))
        smsbox = start(["smsbox", "-v", "4", str(conf)])
        procs.append(smsbox)
        await asyncio.to_thread(wait_port, ports["sendsms"], smsbox, "smsbox")
        yield config, smsc
    finally:
        if smsc is not None:
            await smsc.close()
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.asynccontextmanager
async def console(engine: Engine, port: int, sms: KannelSender | None) -> AsyncIterator[None]:
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


async def until(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def count(engine: Engine, *where: object) -> int:
    with Session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(MessageRow).where(*where)) or 0)  # type: ignore[arg-type]


def replies(engine: Engine, account_id: str) -> int:
    with Session(engine) as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(MessageEventRow)
                .where(MessageEventRow.account_id == account_id, MessageEventRow.kind == "reply")
            )
            or 0
        )


class Inbox:
    def __init__(self) -> None:
        self.to: list[str] = []

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        self.to += envelope.rcpt_tos
        return "250 OK"


def messenger(engine: Engine, config: KannelConfig, at: dt.datetime, smtp_port: int = 0) -> Messenger:
    return Messenger(
        engine,
        MessageGuard(engine, load_preset("us"), clock=lambda: at),
        TemplateSet(),
        {
            Channel.SMS: KannelSender(config),
            Channel.EMAIL: SmtpSender(SmtpConfig(host="127.0.0.1", port=smtp_port, starttls=False)),
        },
        clock=lambda: at,
    )


async def test_reminders_reach_only_debtors_in_their_window_and_stop_replies_are_honoured(
    engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    inbox, smtp_port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    async with kannel(tmp_path, port) as (config, smsc), console(engine, port, KannelSender(config)):
        accounts = [f"S-{i:04d}" for i in range(N_NY + N_SH)]
        summary = await messenger(engine, config, RUN_AT).send(accounts, Channel.SMS, "reminder")
        assert (summary.sent, summary.failed, summary.queued) == (N_NY, 0, 0)
        assert summary.denied == {"outside_window": N_SH}
        emails = await messenger(engine, config, RUN_AT, smtp_port).send(accounts, Channel.EMAIL, "reminder")
        assert (emails.sent, emails.denied) == (N_NY, {"outside_window": N_SH})
        assert sorted(inbox.to) == sorted(f"debtor{i}@home.test" for i in range(N_NY))

        await until(lambda: len(smsc.received) >= N_NY, "every SMS at the fake SMSC")
        assert {to for to, _ in smsc.received} == {ny_number(i).lstrip("+") for i in range(N_NY)}
        assert all("Reply STOP to opt out." in text for _, text in smsc.received)
        await until(lambda: count(engine, MessageRow.status == "delivered") == N_NY, "delivery reports")

        # A STOP from a New York debtor, 退订 from a Shanghai one (UCS-2): each confirmed once.
        before = len(smsc.received)
        await smsc.reply(ny_number(0), "STOP")
        await smsc.reply(sh_number(N_NY), "退订")
        await until(lambda: len(smsc.received) >= before + 2, "two opt-out confirmations")
        confirmations = dict(smsc.received[before:])
        assert "no more text messages" in confirmations[ny_number(0).lstrip("+")]
        assert "您已退订" in confirmations[sh_number(N_NY).lstrip("+")]
        await smsc.reply(ny_number(0), "stop")  # again: recorded, not confirmed again
        await until(lambda: replies(engine, "S-0000") == 2, "the second reply stored")
        await asyncio.sleep(1.0)
        assert len(smsc.received) == before + 2
        with Session(engine) as db:
            opted = {(o.account_id, o.channel) for o in db.scalars(select(OptOutRow))}
        assert opted == {("S-0000", "sms"), (f"S-{N_NY:04d}", "sms")}

        # The next day, inside each one's window: both refused for their opt-out, a neighbour still gets one.
        ny_day2 = await messenger(engine, config, RUN_AT + dt.timedelta(days=1)).send(
            ["S-0000", "S-0001"], Channel.SMS, "reminder"
        )
        # STOP was an SMS: e-mail to the same debtor goes on (opt-outs are per channel).
        email_day2 = await messenger(engine, config, RUN_AT + dt.timedelta(days=1), smtp_port).send(
            ["S-0000"], Channel.EMAIL, "reminder"
        )
        assert email_day2.sent == 1
        sh_day2 = await messenger(engine, config, RUN_AT + dt.timedelta(hours=12)).send(
            [f"S-{N_NY:04d}"], Channel.SMS, "reminder"
        )  # 02:30 UTC: 10:30 in Shanghai
        assert (ny_day2.sent, ny_day2.denied) == (1, {"opted_out": 1})
        assert (sh_day2.sent, sh_day2.denied) == (0, {"opted_out": 1})

        with Session(engine) as db:
            steps = [(e.channel, e.kind) for e in account_page(db, "S-0000").timeline]
        for step in ("message", "delivered", "reply", "opt_out", "opt_out_confirmed", "denied"):
            assert ("sms", step) in steps, step
        assert steps.count(("email", "message")) == 2
    controller.stop()
