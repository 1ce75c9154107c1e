"""What answers a campaign's calls: the bot, or (sandbox load runs) an immediate hang-up."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.answer import converse
from bot.dialogue.channels import PaymentLinkRequest
from bot.dialogue.ports import ActionPorts
from dialer.agents.desk import DeskBoard
from dialer.agents.transfer import DeskTransfer
from dialer.call import AnsweredCall, AnswerKind
from dialer.campaign.feed import CampaignFeed
from dialer.campaign.runner import OnAnswer
from dialer.messaging.replies import local_date
from dialer.messaging.send import Messenger
from dialer.store.models.collectors import Collector
from dialer.store.repo import account_view, get_account
from duncall.agent_transcripts import TransferTranscriber
from duncall.compose.messaging import call_ports, link_issuer, messenger
from duncall.compose.parts import Bot, guard_rules
from duncall.scripts_runtime import CallScripts
from foundation import services
from foundation.contract import AccountView, ConversationRecord, DialTarget
from foundation.settings import get_settings
from telephony.ari import AriClient
from telephony.ari.errors import AriError
from telephony.live.events import live_prefix
from telephony.live.registry import attempt_id_for


def bot_answer(
    ari: AriClient,
    engine: Engine,
    bot: Bot,
    feed: CampaignFeed | None = None,
    *,
    campaign_id: str | None = None,
) -> OnAnswer:
    """The dialogue engine on every answered call, about the account as the store holds it.

    Each call runs the campaign's pinned script version, else the published file, read
    when the call is answered and kept to its end (``duncall.scripts_runtime``).
    """
    versions = CallScripts(engine, campaign_id)
    links = link_messenger(engine)
    desks = desk_directory()

    def view(account_id: str, zone: str | None) -> tuple[AccountView, dt.date]:
        """The account and the debtor's own date: "tomorrow" and "today" on the call are theirs,
        not the server's, and a campaign that runs past midnight moves on with them."""
        with Session(engine) as s:
            row = get_account(s, account_id)
            today = local_date(zone or row.timezone, dt.datetime.now(dt.UTC))
            return account_view(row, today), today

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        here = call.ari or ari  # the node the call is on
        # The strategy names scripts per language (early_collection_en); the bot's files are
        # early_collection.en.yaml.
        name = target.script.removesuffix(f"_{target.language}")
        account, today = await asyncio.to_thread(view, target.account_id, target.timezone)
        ports = await call_ports(links, target.account_id)
        run = await asyncio.to_thread(versions.for_call, name, account.language)
        transfer = None
        if desks is not None and call.kind is not AnswerKind.MACHINE:
            board, endpoints = desks
            speaking = await asyncio.to_thread(speaking_collectors, engine, endpoints, account.language)
            if speaking:
                transfer = DeskTransfer(
                    here,
                    board,
                    speaking,
                    attempt_id=attempt_id_for(call.channel_id),
                    account_id=target.account_id,
                    live=bot.engines.live,
                    transcribe=TransferTranscriber(bot.recognizer),
                    answered_at=call.answered_at,
                )
                ports = Transferring(ports)
        record = await converse(
            here,
            call.channel_id,
            name,
            account,
            today,
            bot.engines,
            bot.classifier,
            machine=call.kind is AnswerKind.MACHINE,
            on_turn=feed.turn_hook(target) if feed is not None else None,
            loaded=run.script,
            ports=ports,
            on_transfer=transfer.offer if transfer is not None else None,
        )
        if transfer is not None:
            # A call a collector took ends with the collector's wrap-up, as a desk campaign's.
            await transfer.finish(record)
        record.script, record.script_version, record.script_sha256 = run.stem, run.version, run.sha256
        return record

    return on_answer


class Transferring:
    """A call's ports with a warm transfer to the desks: whether a collector takes it is known
    only once one accepts (``DeskTransfer.offer``); until then the bot says nothing of it."""

    def __init__(self, inner: ActionPorts) -> None:
        self.inner = inner

    def can_transfer(self, queue: str) -> bool:
        return True

    def can_send_payment_link(self, channel: str) -> bool:
        return self.inner.can_send_payment_link(channel)

    def send_payment_link(self, request: PaymentLinkRequest) -> bool:
        return self.inner.send_payment_link(request)


def desk_directory() -> tuple[DeskBoard, dict[str, str]] | None:
    """The desks a bot call may hand over to: every collector with a desk phone (None: no phone made)."""
    from duncall.sandbox.phones import load_phones

    phones = load_phones()
    if not phones:
        return None
    board = DeskBoard(services.redis_client(), live_prefix())  # the console's desk pages' states
    return board, {collector: phone.endpoint for collector, phone in phones.items()}


def speaking_collectors(engine: Engine, endpoints: dict[str, str], language: str) -> dict[str, str]:
    """The desks whose collector speaks ``language`` (their skills; none recorded: any language)."""
    with Session(engine) as s:
        rows = s.execute(
            select(Collector.collector_id, Collector.languages).where(
                Collector.collector_id.in_(list(endpoints))
            )
        ).all()
    skills = {cid: set(langs or ()) for cid, langs in rows}
    return {cid: ep for cid, ep in endpoints.items() if not skills.get(cid) or language in skills[cid]}


def link_messenger(engine: Engine) -> Messenger | None:
    """The SMS channel a call's "I'll text you a link" uses, when Kannel and payment links are
    configured (``DUNCALL_KANNEL_URL``, ``DUNCALL_PAYMENT_LINK_SECRET`` and ``…_URL``).

    Without it no link is offered: the scripts say how to pay by phone instead.
    """
    env = get_settings()
    if not env.kannel_url or link_issuer(env) is None:
        return None
    return messenger(engine, guard_rules("default"), env)


def hang_up_at_once(ari: AriClient) -> OnAnswer:
    """End each answered call at once: only simulated debtors get it (a sandbox load run)."""

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        try:
            await (call.ari or ari).hangup(call.channel_id)
        except AriError:
            pass  # the persona hung up first
        return ConversationRecord(language=target.language, hangup_by="bot")

    return on_answer
