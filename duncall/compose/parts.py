"""The parts every entry point shares, each made one way from the settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import redis
import redis.asyncio as aioredis
from sqlalchemy import Engine

from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.store.db import open_engine
from foundation import paths, services, settings
from foundation.errors import ConfigError
from telephony.ari import AriClient

if TYPE_CHECKING:
    from bot.asr.registry import RoutingRecognizer
    from bot.callbot import BotEngines
    from bot.nlu.types import IntentClassifier
    from bot.tts.base import Synthesizer
    from dialer.dial.nodes import NodePool
    from dialer.policy import Rules
    from dialer.strategy.model import Strategy

DEFAULT_STRATEGY = paths.strategies_dir() / "default.yaml"


def redis_client() -> redis.Redis:
    """The configured Redis, checked reachable."""
    return services.redis_client()


def redis_at(url: str | None = None) -> redis.Redis:
    """A client for ``url`` (None: the configured Redis) that connects on first use, not here."""
    return redis.Redis.from_url(
        url or settings.redis_url(),
        socket_connect_timeout=services.REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=services.REDIS_SOCKET_TIMEOUT_S,
    )


def async_redis() -> aioredis.Redis:
    """An asyncio client for the configured Redis (connects on first use): for waits that block
    on Redis (a bot job's reply) without holding a thread each."""
    return aioredis.Redis.from_url(
        settings.redis_url(),
        socket_connect_timeout=services.REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=services.REDIS_SOCKET_TIMEOUT_S,
    )


def store(db_url: str | None = None) -> Engine:
    """The store's engine (None: the configured database), its schema upgraded."""
    return open_engine(db_url)


def ari_client() -> AriClient:
    """An ARI client with the configured endpoint and credentials (not connected yet)."""
    return AriClient()


def node_pool(client: redis.Redis, prefix: str) -> NodePool | None:
    """The Asterisk nodes of ``DUNCALL_ASTERISK_NODES`` (not connected yet); None when it is unset."""
    from dialer.dial.nodes import NodePool

    if settings.get_settings().asterisk_nodes is None:
        return None
    return NodePool.of(client, settings.asterisk_nodes(), prefix=prefix)


def guard_rules(name: str) -> Rules:
    """A preset name (``default``, ``sandbox``…) or a YAML file of guard rules."""
    from dialer.policy.config import load_preset, load_rules

    is_file = name.endswith((".yaml", ".yml")) or Path(name).is_file()
    return load_rules(name) if is_file else load_preset(name)


def strategy(path: Path | None = None) -> Strategy:
    """The strategy in ``path`` (None: the shipped default)."""
    from dialer.strategy.config import load_strategy

    return load_strategy(path or DEFAULT_STRATEGY)


def guard(client: redis.Redis, engine: Engine, rules: Rules, prefix: str) -> Guard:
    """The compliance guard: counters in Redis under ``prefix``, decisions in the store's ledger."""
    return Guard(client, Ledger.on(engine), rules, prefix=prefix)


def classifier() -> IntentClassifier:
    """The product's classifier; a model not built yet is an error naming `duncall nlu train`."""
    from bot.nlu import load_classifier  # heavy (transformers): only when needed

    return load_classifier()


@dataclass(frozen=True, slots=True)
class Bot:
    """What the bot needs on a call: speech in and out, understanding."""

    engines: BotEngines
    classifier: IntentClassifier
    recognizer: RoutingRecognizer


def bot() -> Bot:
    """The bot's engines, loaded once per process (models and prompt cache)."""
    from bot.asr.registry import configured_recognizer
    from bot.callbot import BotEngines, prepare_process_for_calls
    from bot.grammars import phrases
    from bot.tts.cache import PromptCache
    from bot.tts.espeak import DEFAULT_RATE_WPM
    from bot.tts.registry import configured_synthesizer
    from telephony.live.registry import LiveCallRegistry

    prepare_process_for_calls()
    prompts = PromptCache(configured_synthesizer(), paths.home() / "tts-cache", DEFAULT_RATE_WPM)
    recognizer = configured_recognizer()
    # Bridged calls are listed for supervisors (duncall.supervision) in the configured Redis.
    engines = BotEngines(recognizer, prompts, phrases, live=LiveCallRegistry.from_env())
    return Bot(engines, classifier(), recognizer)


def ready_languages(
    langs: set[str],
    recognizer: RoutingRecognizer,
    classifier: IntentClassifier,
    synth: Synthesizer | None = None,
) -> dict[str, str | None]:
    """Each language → None when its models load, else why not (e.g. no ASR model installed).

    Everything is loaded before the first dial: a missing model is said now, not as
    a dead call later, and the first debtor does not wait for a model to load (the
    voice's too, when ``synth`` is given: a neural voice loads in a second or more).
    """
    ready: dict[str, str | None] = {}
    for lang in sorted(langs):
        try:
            recognizer.warm(lang)
            classifier.understand("hello", lang, dt.date.today())
            if synth is not None:
                from bot.tts.espeak import DEFAULT_RATE_WPM

                synth.synthesize("Hello.", synth.voice_for(lang), DEFAULT_RATE_WPM)
            ready[lang] = None
        except ConfigError as exc:
            ready[lang] = exc.one_line()
    return ready
