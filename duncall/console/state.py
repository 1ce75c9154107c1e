"""What every request shares: settings, the store's engine, the lazily loaded classifier."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.nlu.types import IntentClassifier
from dialer.store.db import open_engine, session_factory
from duncall.console.settings import ConsoleSettings


class Console:
    def __init__(self, settings: ConsoleSettings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or open_engine(settings.database_url)
        self._sessions: sessionmaker[Session] = session_factory(self.engine)
        self._classifier: IntentClassifier | None = None
        self._classifier_lock = threading.Lock()

    def now(self) -> dt.datetime:
        return self.settings.clock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        with self._sessions() as db, db.begin():
            yield db

    def classifier(self) -> IntentClassifier:
        # Loading a model takes seconds; the first simulation pays once, requests after share it.
        with self._classifier_lock:
            if self._classifier is None:
                self._classifier = self.settings.classifier_factory()
            return self._classifier
