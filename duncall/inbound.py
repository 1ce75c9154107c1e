"""Debtors calling back: the callback number's calls answered by the bot.

The dialplan (``[duncall-inbound]`` in ``asterisk-config/extensions.conf``) sends a call to
a callback number into the Stasis app with the arguments ``inbound,<dialled number>``; those
StasisStarts are ours alone (an outbound leg enters with none, or ``amd,…``).  For each:

1. the caller ID is normalised to E.164 and matched against the debtors' phones
   (``dialer.inbound.find_caller``);
2. no match, or a withheld number: the caller hears who answers and how to reach us, and
   nothing about a debt (whoever calls may not be the debtor), and the call ends;
3. a match: the account's script runs from its right-party verification, its first prompt
   led by "Thank you for calling back" — the same verification states as an outbound call,
   so nothing about the debt is said before the caller said they are the debtor.  The call
   is an inbound attempt on the account (``dialer.inbound``): not a dial, so no guard
   decision and no cap counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.answer import converse
from bot.dialogue.model import Prompt, Retry, Script, State
from bot.speech.template import Template
from dialer.accounts.records import region_of
from dialer.inbound import Caller, account_flags, end_inbound, find_caller, follow_up, normalise, open_inbound
from dialer.messaging.replies import local_date
from dialer.policy.zones import zones_for
from dialer.store.repo import account_view, get_account
from duncall.compose import parts
from duncall.compose.answer import link_messenger
from duncall.compose.messaging import call_ports
from duncall.scripts_runtime import CallScripts, RunScript
from foundation.contract import AccountView, ConversationRecord, Disposition
from foundation.log import kv, kv_pii
from telephony.ari import AriClient, StasisStart
from telephony.ari.errors import AriError
from telephony.ari.events import AriEvent
from telephony.ari.subscriptions import OnFull

log = logging.getLogger(__name__)

INBOUND_ARG = "inbound"  # the first Stasis argument of [duncall-inbound]
# The Stasis app [duncall-inbound] sends calls to: not the dialer's ("duncall"), since Asterisk
# gives an app's events to one WebSocket, and a campaign's dialer holds its own.
INBOUND_APP = "duncall-inbound"
DEFAULT_SCRIPT = "early_collection"
MAX_CALLS = 30  # inbound calls at once; one more is refused (the caller hears congestion)
QUEUE_SIZE = 256  # StasisStarts waiting to be taken: a burst of callers, never a backlog
THANKS = {"en": "Thank you for calling back.", "zh": "感谢您的回电。"}
NOT_FOUND = {
    "en": "Thank you for calling. We could not find your details from the number you are calling "
    "from. Please call us back from the phone number we contacted you on. Goodbye.",
    "zh": "感谢您的来电。我们无法根据您的来电号码找到您的信息。请使用我们联系您的电话号码回电。再见。",
}
# An account with a flag that stops collection (a dispute, an attorney, cease contact…): the bot
# does not collect, whoever calls; a collector follows up (``follow_ups``).
HELD = {
    "en": "Thank you for calling. One of our team needs to take your call, so please call again "
    "during business hours. Goodbye.",
    "zh": "感谢您的来电。您的来电需要由我们的工作人员处理，请在工作时间再次来电。再见。",
}


def is_inbound(event: AriEvent) -> bool:
    return isinstance(event, StasisStart) and event.args[:1] == (INBOUND_ARG,)


def inbound_script(script: Script) -> Script:
    """``script`` as an inbound call runs it: its start (right-party verification) led by thanks.

    One prompt, not two: the caller answers after the bot's first pause.
    """
    start = script.states[script.start]
    thanks = THANKS.get(script.lang, THANKS["en"])
    if not start.prompts:
        prompts: tuple[Prompt, ...] = (Prompt(Template(thanks), True, start.line),)
    else:
        first = start.prompts[0]
        prompts = (dataclasses.replace(first, template=Template(f"{thanks} {first.template.text}")),)
        prompts += start.prompts[1:]
    states = {**script.states, script.start: dataclasses.replace(start, prompts=prompts)}
    return dataclasses.replace(script, states=states)


def not_found_script(lang: str, notice: tuple[Prompt, ...] = ()) -> Script:
    """One line and goodbye: for a caller we cannot tell, nothing about any account.

    ``notice``: the scripts' recording notice, said first as on every answered call.
    """
    return one_line_script("inbound_not_found", NOT_FOUND.get(lang, NOT_FOUND["en"]), lang, notice)


def held_script(lang: str, notice: tuple[Prompt, ...] = ()) -> Script:
    """For an account collection has stopped on: a person takes it, the bot says nothing more."""
    return one_line_script("inbound_held", HELD.get(lang, HELD["en"]), lang, notice)


def one_line_script(name: str, line: str, lang: str, notice: tuple[Prompt, ...]) -> Script:
    say = Prompt(Template(line), False, 0)
    never = Retry(0, (), "say")
    state = State(
        name="say",
        line=0,
        prompts=(say,),
        action=None,
        flags=frozenset(),
        grammar=None,
        on={},
        dtmf={},
        use_global=False,
        next=None,
        end=Disposition.NO_CONTACT,
        no_input=never,
        no_match=never,
    )
    return Script(
        name=name,
        lang=lang,
        path=Path(name),
        start="say",
        states={"say": state},
        global_on={},
        voicemail=(),
        recording_notice=notice,
    )


def nobody(lang: str, callback_number: str) -> AccountView:
    """The account view of a caller we could not match: empty, so no prompt can name anything
    (the number called is the only fact, and the not-found line does not say it either)."""
    return AccountView(
        "", "", "", lang, Decimal(0), "", None, 0, creditor="", callback_number=callback_number
    )


def caller_today(zone: str | None, number: str | None, now: dt.datetime) -> dt.date:
    """The caller's own date at ``now``: the account's time zone, else the one zone the calling
    number lies in, else UTC.  "Today" and "tomorrow" on the call are the debtor's, as on a
    campaign call (``duncall.compose.answer``), not the server's."""
    if not zone and number:
        zones = zones_for(number, None)
        if len(zones) == 1:
            zone = zones[0].key
    return local_date(zone, now)


def inbound_account(
    session: Session, account_id: str, number: str | None, now: dt.datetime
) -> tuple[AccountView, dt.date]:
    """The account a caller matched, its days past due counted on the caller's date, and that date."""
    row = get_account(session, account_id)
    today = caller_today(row.timezone, number, now)
    return account_view(row, today), today


@dataclass(frozen=True, slots=True)
class InboundCall:
    """One inbound call, as it ended."""

    channel_id: str
    did: str | None
    caller: Caller
    attempt_id: str | None  # None: no account matched, nothing stored
    record: ConversationRecord | None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InboundService:
    """Answers the Stasis app's inbound calls with the bot until cancelled."""

    def __init__(
        self,
        ari: AriClient,
        engine: Engine,
        bot: parts.Bot,
        *,
        script: str = DEFAULT_SCRIPT,
        max_calls: int = MAX_CALLS,
        clock: Callable[[], dt.datetime] = _utc_now,
        on_call: Callable[[InboundCall], None] | None = None,
    ) -> None:
        self.ari, self.engine, self.bot = ari, engine, bot
        self.script = script
        self.max_calls = max_calls
        self.clock = clock
        self.on_call = on_call
        self.scripts = CallScripts(engine, None)
        self.links = link_messenger(engine)  # "I'll text you a link", when SMS and links are configured
        self.active: set[asyncio.Task[InboundCall]] = set()
        self.taken = 0

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        """Take inbound calls until cancelled; each call its own task, all ended on the way out."""
        with self.ari.subscribe(is_inbound, name="inbound", maxsize=QUEUE_SIZE, on_full=OnFull.DROP) as calls:
            if ready is not None:
                ready.set()
            try:
                while True:
                    event = await calls.get()
                    assert isinstance(event, StasisStart)
                    if len(self.active) >= self.max_calls:
                        log.warning("inbound call refused: at the limit", extra=kv(limit=self.max_calls))
                        with contextlib.suppress(AriError):
                            await self.ari.hangup(event.channel.id, "congestion")
                        continue
                    task = asyncio.create_task(self.take(event), name=f"inbound:{event.channel.id}")
                    self.active.add(task)
                    task.add_done_callback(self._done)
            finally:
                for task in list(self.active):
                    task.cancel()
                if self.active:
                    await asyncio.wait(list(self.active), timeout=10)

    def _done(self, task: asyncio.Task[InboundCall]) -> None:
        self.active.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("inbound call failed", exc_info=task.exception())

    async def take(self, event: StasisStart) -> InboundCall:
        """One inbound call from its StasisStart to its end."""
        channel = event.channel
        dialled = event.args[1] if len(event.args) > 1 else None
        # The DID as the carrier sent it (national digits or E.164), in E.164 when it parses.
        did = (normalise(dialled, None) or dialled) if dialled else None
        caller = await asyncio.to_thread(self._find, channel.caller.number, did)
        self.taken += 1
        try:
            await self.ari.answer(channel.id)
        except AriError:
            # The caller hung up while we looked them up: nothing was said, nothing to store.
            log.info("inbound caller gone before the answer", extra=kv(did=did))
            return InboundCall(channel.id, did, caller, None, None)
        if caller.account_id is None and not (did or "").startswith("+"):
            # Not even the number called is known: nothing to say that would help; the line is freed.
            log.warning("inbound call to a number that is not one", extra=kv(did=dialled))
            await self.ari.hangup(channel.id, "normal")
            call = InboundCall(channel.id, did, caller, None, None)
        elif caller.account_id is None:
            lang = "zh" if did and region_of(did) == "CN" else "en"
            run = await asyncio.to_thread(self.scripts.for_call, self.script, lang)
            notice = run.script.recording_notice
            log.info("inbound call from no known account", extra=kv_pii({"caller": caller.number}, did=did))
            record = await converse(
                self.ari,
                channel.id,
                "inbound_not_found",
                nobody(lang, did or ""),
                caller_today(None, caller.number, self.clock()),
                self.bot.engines,
                self.bot.classifier,
                machine=False,
                loaded=not_found_script(lang, notice),
            )
            call = InboundCall(channel.id, did, caller, None, record)
        else:
            call = await self._converse(channel.id, did, caller, caller.account_id)
        if self.on_call is not None:
            self.on_call(call)
        return call

    def _find(self, caller_id: str, did: str | None) -> Caller:
        with Session(self.engine) as s:
            return find_caller(s, caller_id, did)

    async def _converse(
        self, channel_id: str, did: str | None, caller: Caller, account_id: str
    ) -> InboundCall:
        now = self.clock()
        number = caller.number or ""
        attempt_id = str(uuid.uuid4())
        account, today, run, flags = await asyncio.to_thread(self._prepare, account_id, number, now)
        ports = await call_ports(self.links, account_id)
        loaded = inbound_script(run.script)
        if flags:
            # Collection has stopped on this account: a person answers the debtor, not the bot.
            loaded = held_script(account.language, run.script.recording_notice)
            reason = f"called back; account flagged {', '.join(flags)}: call them back"
            await asyncio.to_thread(follow_up, self.engine, account_id, reason, now)
        await asyncio.to_thread(open_inbound, self.engine, attempt_id, account_id, number, run.stem, now)
        log.info("inbound call", extra=kv(attempt_id=attempt_id, account_id=account_id, did=did))
        started = time.monotonic()
        record: ConversationRecord | None = None
        try:
            record = await converse(
                self.ari,
                channel_id,
                self.script,
                account,
                today,
                self.bot.engines,
                self.bot.classifier,
                machine=False,
                loaded=loaded,
                ports=ports,
            )
            record.script, record.script_version, record.script_sha256 = run.stem, run.version, run.sha256
        finally:
            # Shielded: a cancelled service still ends the attempt it opened.
            await asyncio.shield(
                asyncio.to_thread(
                    end_inbound,
                    self.engine,
                    attempt_id,
                    channel_id,
                    account_id,
                    number,
                    record,
                    time.monotonic() - started,
                    self.clock(),
                )
            )
        return InboundCall(channel_id, did, caller, attempt_id, record)

    def _prepare(
        self, account_id: str, number: str, now: dt.datetime
    ) -> tuple[AccountView, dt.date, RunScript, list[str]]:
        with Session(self.engine) as s:
            view, today = inbound_account(s, account_id, number, now)
            flags = account_flags(s, account_id)
        return view, today, self.scripts.for_call(self.script, view.language), flags


async def serve(
    *,
    db_url: str | None = None,
    script: str = DEFAULT_SCRIPT,
    max_calls: int = MAX_CALLS,
    app: str = INBOUND_APP,
    say: Callable[[str], None] = print,
) -> None:
    """``duncall inbound serve``: warm the bot like a campaign, then answer inbound calls until stopped."""
    from bot.nlu.data import LANGS
    from foundation.settings import ari_settings

    engine = parts.store(db_url)
    ari = AriClient(dataclasses.replace(ari_settings(), app=app))
    await ari.connect()  # fail fast when Asterisk is unreachable
    try:
        bot = await asyncio.to_thread(parts.bot)
        # Every language's decoders and the intent model loaded before the first caller, who
        # would otherwise wait for them on the first answer (as the campaign path does).
        ready = await asyncio.to_thread(parts.ready_languages, set(LANGS), bot.recognizer, bot.classifier)
        for lang, why in sorted(ready.items()):
            say(f"{lang}: {'ready' if why is None else why}")
        started = asyncio.Event()
        service = InboundService(
            ari,
            engine,
            bot,
            script=script,
            max_calls=max_calls,
            on_call=lambda c: say(_line(c)),
        )
        task = asyncio.create_task(service.serve(started), name="inbound-serve")
        # A stop (SIGTERM from docker, systemd or kill) ends the calls up and their attempts first.
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        await started.wait()
        say(f"answering inbound calls in Stasis app {ari.app!r} (dialplan context duncall-inbound)")
        with contextlib.suppress(asyncio.CancelledError):
            await task
        say("stopped")
    finally:
        await ari.close()
        engine.dispose()


def _line(call: InboundCall) -> str:
    if call.attempt_id is None:
        return f"inbound {call.channel_id}: no account for the caller ID; told how to reach us"
    disposition = call.record.disposition.value if call.record and call.record.disposition else "incomplete"
    verified = bool(call.record and call.record.right_party)
    return f"inbound {call.channel_id}: attempt {call.attempt_id} {disposition} (verified: {verified})"
