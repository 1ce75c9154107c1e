"""How fast a supervisor is connected to a live bot call, and how fast a take-over hands it over.

One bot call through the sandbox Asterisk to the simulated debtor that keeps
talking (``[duncall-supervised-debtor]``); on it, ``--rounds`` times: start a
listen session (the supervisor's stand-in answers at once, so this is ARI
work: originate, snoop, bridge), switch to whisper, to barge, end it.  Then a
take-over, timed until the bot's media channel is gone.  Reports p50 and max
per step in milliseconds.

    .venv/bin/python bench/supervision.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from bot.answer import converse
from dialer.call import AnsweredCall, AnswerKind
from dialer.campaign.facts import store_facts
from dialer.campaign.runner import run_campaign
from dialer.guards.gate import GuardGate
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.policy.config import load_preset
from dialer.store.db import open_engine
from duncall import demo
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.supervision.modes import Mode
from duncall.supervision.service import SupervisionService
from duncall.supervision.settings import SupervisionSettings
from foundation import paths, settings
from foundation.contract import ConversationRecord, DialTarget
from telephony.ari import AriClient
from telephony.ari.errors import AriNotFound
from telephony.live.registry import LiveCallRegistry

T = TypeVar("T")


async def bench(rounds: int) -> dict[str, list[float]]:
    tag = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="duncall-bench-sup-"))
    engine = open_engine(f"sqlite:///{tmp / 'calls.db'}")
    persona = next(p for p in load_personas(paths.personas_dir()) if p.name == "cooperative")
    import_persona_accounts(engine, persona_accounts([persona]))
    client = redis.Redis.from_url(settings.redis_url())
    prefix = f"duncall-bench-sup:{tag}:"
    registry = LiveCallRegistry(client, prefix + "live:")
    engines, classifier, recognizer = demo.load_engines()
    engines = replace(engines, live=registry)
    demo.ready_languages({"en"}, recognizer, classifier)
    gate = GuardGate(
        Guard(client, Ledger.on(engine), load_preset("sandbox"), prefix=prefix), store_facts(engine)
    )
    base = replace(settings.ari_settings(), app=f"bench-sup-{tag}")
    service = SupervisionService(
        SupervisionSettings(allowed_prefixes=("Local/",), answer_timeout_s=10), registry, ari=base
    )
    ari = AriClient(base)
    await ari.connect()
    today = dt.date.today()

    async def on_answer(t: DialTarget, call: AnsweredCall) -> ConversationRecord:
        return await converse(
            ari,
            call.channel_id,
            t.script,
            demo.account_view(persona),
            today,
            engines,
            classifier,
            machine=call.kind is AnswerKind.MACHINE,
        )

    target = DialTarget(
        persona.account.account_id,
        persona.account.phone,
        f"Local/{tag}@duncall-supervised-debtor",
        "en",
        "early_collection",
    )
    campaign = asyncio.create_task(run_campaign(ari, engine, [target], on_answer, gate))
    times: dict[str, list[float]] = {"listen": [], "whisper": [], "barge": [], "end": [], "takeover": []}
    try:
        for _ in range(600):  # the bot lists the call once bridged (a minute at most)
            calls = await asyncio.to_thread(registry.calls)
            if calls:
                break
            await asyncio.sleep(0.1)
        call = calls[0]

        async def timed(step: str, action: Awaitable[T]) -> T:
            started = time.monotonic()
            out = await action
            times[step].append((time.monotonic() - started) * 1000)
            return out

        for i in range(rounds):
            view = await timed(
                "listen",
                service.supervise(
                    call.attempt_id, "bench", Mode.LISTEN, f"Local/b{i}-1000-{tag}@duncall-supervisor"
                ),
            )
            await timed("whisper", service.switch(view.session_id, "bench", Mode.WHISPER))
            await timed("barge", service.switch(view.session_id, "bench", Mode.BARGE))
            await timed("end", service.end(view.session_id, "bench"))
        started = time.monotonic()
        view = await service.supervise(
            call.attempt_id, "bench", Mode.TAKEOVER, f"Local/t-1000-{tag}@duncall-supervisor"
        )
        try:
            while True:
                await ari.get_channel(call.media_channel_id)
                await asyncio.sleep(0.01)
        except AriNotFound:
            times["takeover"].append((time.monotonic() - started) * 1000)
        await service.end(view.session_id, "bench")
        await asyncio.wait_for(campaign, 30)
    finally:
        await service.close()
        await ari.close()
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="listen/whisper/barge/end rounds on the call")
    args = parser.parse_args()
    times = asyncio.run(bench(args.rounds))
    print(
        "step      p50 ms   max ms   n   (listen = ring + snoop + bridge; takeover = until the bot's media is gone)"
    )
    for step, values in times.items():
        if values:
            print(f"{step:9s} {statistics.median(values):7.0f}  {max(values):7.0f}  {len(values):2d}")


if __name__ == "__main__":
    main()
