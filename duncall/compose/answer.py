"""What answers a campaign's calls: the bot, or (sandbox load runs) an immediate hang-up."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.answer import converse
from dialer.call import AnsweredCall, AnswerKind
from dialer.campaign.feed import CampaignFeed
from dialer.campaign.runner import OnAnswer
from dialer.messaging.send import Messenger
from dialer.store.repo import read_account_view
from duncall.compose.messaging import call_ports, link_issuer, messenger
from duncall.compose.parts import Bot, guard_rules
from duncall.scripts_runtime import CallScripts
from foundation.contract import AccountView, ConversationRecord, DialTarget
from foundation.settings import get_settings
from telephony.ari import AriClient
from telephony.ari.errors import AriError


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
    today = dt.date.today()
    versions = CallScripts(engine, campaign_id)
    links = link_messenger(engine)

    def view(account_id: str) -> AccountView:
        with Session(engine) as s:
            return read_account_view(s, account_id, today)

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        # The strategy names scripts per language (early_collection_en); the bot's files are
        # early_collection.en.yaml.
        name = target.script.removesuffix(f"_{target.language}")
        account = await asyncio.to_thread(view, target.account_id)
        ports = await call_ports(links, target.account_id)
        run = await asyncio.to_thread(versions.for_call, name, account.language)
        record = await converse(
            ari,
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
        )
        record.script, record.script_version, record.script_sha256 = run.stem, run.version, run.sha256
        return record

    return on_answer


def link_messenger(engine: Engine) -> Messenger | None:
    """The SMS channel a call's "I'll text you a link" uses, when Kannel and payment links are
    configured (``DUNCALL_KANNEL_URL``, ``DUNCALL_PAYMENT_LINK_SECRET`` and ``…_URL``).

    Without it no link is offered: the scripts say how to pay by phone instead.  No transfer
    target exists yet, so the scripts offer a callback instead of a transfer.
    """
    env = get_settings()
    if not env.kannel_url or link_issuer(env) is None:
        return None
    return messenger(engine, guard_rules("default"), env)


def hang_up_at_once(ari: AriClient) -> OnAnswer:
    """End each answered call at once: only simulated debtors get it (a sandbox load run)."""

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        try:
            await ari.hangup(call.channel_id)
        except AriError:
            pass  # the persona hung up first
        return ConversationRecord(language=target.language, hangup_by="bot")

    return on_answer
