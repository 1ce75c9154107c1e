"""What every request shares: settings, the store's engine, the lazily loaded classifier."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
import redis.asyncio as aioredis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.nlu.types import IntentClassifier
from dialer.store.db import session_factory
from duncall.compose import parts
from duncall.console.settings import ConsoleSettings
from foundation.settings import redis_url
from telephony.live import events


class Console:
    def __init__(self, settings: ConsoleSettings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or parts.store(settings.database_url)
        self._sessions: sessionmaker[Session] = session_factory(self.engine)
        self._classifier: IntentClassifier | None = None
        self._classifier_lock = threading.Lock()
        self._redis: redis.Redis | None = None
        self._redis_lock = threading.Lock()
        # argon2 costs 64 MiB a check: at most this many at once, the rest wait their turn.
        self.hash_slots = threading.BoundedSemaphore(settings.login_max_concurrent_hashes)

    def now(self) -> dt.datetime:
        return self.settings.clock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        with self._sessions() as db, db.begin():
            yield db

    @property
    def live_prefix(self) -> str:
        return self.settings.live_prefix if self.settings.live_prefix is not None else events.live_prefix()

    def redis(self) -> redis.Redis:
        """The live board's Redis (events, campaign control); connects on first use, not here."""
        with self._redis_lock:
            if self._redis is None:
                self._redis = parts.redis_at(self.settings.redis_url)
            return self._redis

    def redis_async(self) -> aioredis.Redis:
        """A client of its own for one WebSocket (an asyncio client belongs to one event loop)."""
        return aioredis.Redis.from_url(self.settings.redis_url or redis_url())

    def classifier(self) -> IntentClassifier:
        # Loading a model takes seconds; the first simulation pays once, requests after share it.
        with self._classifier_lock:
            if self._classifier is None:
                self._classifier = self.settings.classifier_factory()
            return self._classifier
