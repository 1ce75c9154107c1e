"""The desk's click-to-call: a collector's own call, decided by the guard like every dialer call.

The console holds one ARI connection of its own for these calls (a Stasis app of its own,
made on first use: the console runs without Asterisk until a collector dials) and the
compliance guard on the dialers' counters (``DUNCALL_GUARD_*`` prefix, the rules of
``DUNCALL_DESK_GUARD_RULES``).  The call itself is ``dialer.agents.manual``: the one dial
pipeline, as a human-voice call.  Who may call which account is the router's to check.

A recorded call's two sides are transcribed after its attempt is stored, with the same
``AgentTranscriber`` an agent campaign runs (the recognizer made on the first one), through the
same bounded after-call queue (``dialer.agents.after_call``, for the calls of no campaign): one
call at a time, at most a few waiting in memory, the rest kept due on their call's record —
which a stopped console leaves for the next one's first desk call to run.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy import select

from dialer.agents.after_call import AfterCall, AfterCallQueue
from dialer.agents.desk import DeskBoard
from dialer.agents.manual import Decision, ManualCall, settle_lost_calls, voicemail_message
from dialer.agents.recording import AgentRecording
from dialer.campaign.facts import store_facts
from dialer.campaign.recovery import guard_sink
from dialer.campaign.targets import endpoint_template
from dialer.dial.pipeline import TargetResult
from dialer.guards.gate import GuardGate
from dialer.guards.guard import DEFAULT_PREFIX, Guard
from dialer.guards.ledger import Ledger
from dialer.policy import Rules, Voice
from dialer.store.models import Account, Collector, Phone
from duncall.agent_transcripts import AgentTranscriber
from duncall.compose import parts
from duncall.console.state import Console
from foundation.contract import DialTarget
from foundation.errors import ConfigError, InputError
from foundation.log import kv
from foundation.settings import ari_settings, get_settings
from telephony.ari import AriClient
from telephony.live.registry import LiveCallRegistry

log = logging.getLogger(__name__)

APP_SUFFIX = "-desk"
AriFactory = Callable[[], Awaitable[AriClient]]
# Made once the console has its ARI: the after-call transcription of each recorded desk call.
TranscriberFactory = Callable[[AriClient], AfterCall]


async def _own_app() -> AriClient:
    """An ARI connection with a Stasis app of this process's own (Asterisk sends an app's events to one)."""
    base = ari_settings()
    client = AriClient(replace(base, app=f"{base.app}{APP_SUFFIX}-{uuid.uuid4().hex[:8]}"))
    try:
        await client.connect()
    except BaseException:
        await client.aclose()
        raise
    return client


class DeskCalls:
    def __init__(
        self,
        console: Console,
        *,
        endpoint: str | None = None,
        rules: Rules | None = None,
        guard_prefix: str = DEFAULT_PREFIX,
        ari: AriFactory = _own_app,
        transcriber: TranscriberFactory | None = None,
    ) -> None:
        """``transcriber``: each recorded call's after-call step (default: the campaign's
        ``AgentTranscriber`` on the console's own ARI and database)."""
        env = get_settings()
        template = env.desk_dial_endpoint if endpoint is None else endpoint
        if not template:
            raise ConfigError(
                "the desk places no calls: no dial string for them",
                "set DUNCALL_DESK_DIAL_ENDPOINT, e.g. PJSIP/{number}@carrier",
            )
        self.console = console
        self.endpoint_for = endpoint_template(template)
        self.rules = rules if rules is not None else parts.guard_rules(env.desk_guard_rules)
        self.guard_prefix = guard_prefix
        self._ari_factory = ari
        self._ari: AriClient | None = None
        self._lock = asyncio.Lock()
        self._calls: set[asyncio.Task[TargetResult | None]] = set()
        self._make_transcriber = transcriber or (lambda ari: AgentTranscriber(ari, console.engine))
        self._after: AfterCallQueue | None = None
        self._after_made = asyncio.Lock()  # two calls ending together make one queue

    async def _client(self) -> AriClient:
        async with self._lock:
            if self._ari is None:
                ari = await self._ari_factory()
                # Calls a previous console lost when it stopped: their rows end, not stay dialling,
                # and a conversation on one still starts the guard's after-conversation lockout.
                await settle_lost_calls(
                    ari, self.console.engine, self.console.now(), on_lost=guard_sink(self._guard())
                )
                self._ari = ari
            return self._ari

    def _guard(self) -> Guard:
        console = self.console
        return Guard(
            console.redis(),
            Ledger.on(console.engine),
            self.rules,
            prefix=self.guard_prefix,
            clock=console.now,
        )

    def target(self, account_id: str, number: str) -> DialTarget:
        """The dial of ``number`` of ``account_id`` (one of the account's own numbers)."""
        with self.console.transaction() as db:
            account = db.get(Account, account_id)
            if account is None:
                raise InputError(f"no account {account_id!r}", "pick one from the worklist")
            numbers = set(db.scalars(select(Phone.number).where(Phone.account_id == account_id)))
            if number not in numbers:
                raise InputError(f"{number!r} is not a number of account {account_id}", "call one it lists")
            caller_id = account.creditor.caller_id if account.creditor else None
            language = account.language or "en"
        endpoint = self.endpoint_for(account_id, number)
        if endpoint is None:
            raise InputError(f"{number!r} cannot be dialled", "give the number in E.164 form (+digits)")
        return DialTarget(account_id, number, endpoint=endpoint, language=language, caller_id=caller_id)

    def voicemail(self, account_id: str, collector_id: str) -> str | None:
        """The limited-content message the collector may leave if a voicemail answers this call;
        None when the account's creditor has no callback number (then no message may be left)."""
        with self.console.transaction() as db:
            account = db.get(Account, account_id)
            collector = db.get(Collector, collector_id)
            if account is None or account.creditor is None or not account.creditor.callback_number:
                return None
            full_name = " ".join(n for n in (account.first_name, account.last_name) if n)
            return voicemail_message(
                full_name,
                collector.name if collector is not None else collector_id,
                account.creditor.callback_number,
            )

    async def _after_call(self, recording: AgentRecording, language: str) -> None:
        async with self._after_made:
            if self._after is None:
                queue = AfterCallQueue(
                    self._make_transcriber(await self._client()), self.console.engine, campaign_id=None
                )
                await queue.__aenter__()  # its worker first runs what a stopped console left due
                self._after = queue
        await self._after.submit(recording, language)

    async def call(self, target: DialTarget, collector_id: str, desk_endpoint: str) -> Decision:
        """Ask the guard (as a human call) and, when allowed, place the call to the collector's desk."""
        console = self.console
        ari = await self._client()
        guard = self._guard()
        manual = ManualCall(
            ari,
            console.engine,
            GuardGate(guard, store_facts(console.engine), voice=Voice.HUMAN),
            DeskBoard(console.redis(), console.live_prefix),
            clock=console.now,
            live=LiveCallRegistry(console.redis(), console.live_prefix),
            after_call=self._after_call,
        )
        decision, task = await manual.start(target, collector_id, desk_endpoint, str(uuid.uuid4()))
        if task is not None:
            self._calls.add(task)
            task.add_done_callback(self._ended)
        return decision

    def _ended(self, task: asyncio.Task[TargetResult | None]) -> None:
        self._calls.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("desk call failed", extra=kv(error=type(task.exception()).__name__))

    async def close(self) -> None:
        """Calls still up are left to end in Asterisk; their attempts are settled by recovery."""
        for task in list(self._calls):
            task.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
        if self._after is not None:
            # Stopped, not drained: transcriptions not yet run stay due for the next console.
            stopped = asyncio.CancelledError()
            await self._after.__aexit__(type(stopped), stopped, None)
            self._after = None
        if self._ari is not None:
            await self._ari.close()
            self._ari = None
