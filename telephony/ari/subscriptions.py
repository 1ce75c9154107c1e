"""Bounded event queues between the one WebSocket reader and many consumers.

The reader never blocks on a consumer: one stuck call must not delay the
events of the other calls. So each subscription has a bounded queue and a
rule for when it is full:

- ``OnFull.DROP`` (observers: dashboards, metrics): the new event is dropped,
  ``dropped`` counts it and a warning is logged (at most every few seconds).
- ``OnFull.RAISE`` (per-call owners): the queue is sized generously; if it
  still overflows, the subscription ends and the consumer's next read raises
  ``EventsLost`` after the events already queued. Never a silent gap.

Consumers that let events wait longer than ``SLOW_CONSUMER_S`` are logged by
the client's watchdog, as are predicates that make dispatch slow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

from foundation.log import kv
from telephony.ari.errors import EventsLost
from telephony.ari.events import AriEvent

log = logging.getLogger("telephony.ari")

# asyncari's threshold: an event waiting this long behind a consumer delays call handling audibly.
SLOW_CONSUMER_S = 0.5
# At most one "dropped events" warning per subscription in this period, so a flood does not flood the log.
DROP_WARN_EVERY_S = 5.0
# Observers see aggregate streams; 256 covers a burst from ~30 calls starting at once.
OBSERVER_QUEUE_SIZE = 256
# One call produces tens of events; a per-call queue this deep only fills if its owner is stuck.
CALL_QUEUE_SIZE = 1000

Predicate = Callable[[AriEvent], bool]


class OnFull(StrEnum):
    DROP = "drop"
    RAISE = "raise"


@dataclass(frozen=True, slots=True)
class _End:
    error: BaseException | None = None


class Subscription:
    """One consumer's view of the event stream. Use ``async for event in sub`` or ``await sub.get()``.

    Leaving ``async with`` (or ``close()``) detaches it from the client.
    """

    def __init__(
        self,
        name: str,
        predicate: Predicate | None,
        *,
        maxsize: int,
        on_full: OnFull,
        ends_with: Predicate | None = None,
        detach: Callable[[Subscription], None] | None = None,
    ) -> None:
        if maxsize <= 0:
            raise ValueError("a subscription queue must be bounded (maxsize > 0)")
        self.name = name
        self.maxsize = maxsize
        self.on_full = on_full
        self.dropped = 0
        self._predicate = predicate
        self._ends_with = ends_with
        self._detach = detach
        # Bounded by ``offer`` (not by the Queue) so that the end marker always fits.
        self._queue: asyncio.Queue[tuple[float, AriEvent] | _End] = asyncio.Queue()
        self._ended = False
        self._last_drop_warning = 0.0
        self._pending_since: float | None = None
        self.stall_warned = False

    # --- dispatcher side (called from the reader task, never blocks) ---------------------

    def wants(self, event: AriEvent) -> bool:
        return not self._ended and (self._predicate is None or self._predicate(event))

    def offer(self, event: AriEvent) -> None:
        if self._ended:
            return
        now = time.monotonic()
        if self.qsize() >= self.maxsize:
            self.dropped += 1
            if self.on_full is OnFull.RAISE:
                self.end(
                    EventsLost(
                        f"event queue of {self.name} overflowed at {self.maxsize} events; lost {event.type}"
                    )
                )
            elif now - self._last_drop_warning >= DROP_WARN_EVERY_S:
                self._last_drop_warning = now
                log.warning(
                    "observer queue full, dropping events",
                    extra=kv(subscription=self.name, dropped=self.dropped, maxsize=self.maxsize),
                )
            return
        if self._pending_since is None:
            self._pending_since = now
        self._queue.put_nowait((now, event))
        if self._ends_with is not None and self._ends_with(event):
            self.end()

    def end(self, error: BaseException | None = None) -> None:
        """No more events: the consumer drains what is queued, then stops (or gets ``error``)."""
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(_End(error))

    def stalled_for(self, now: float) -> float:
        """How long queued events have waited for the consumer to read (0 if none wait)."""
        if self._pending_since is None or self._queue.empty():
            return 0.0
        return now - self._pending_since

    # --- consumer side -----------------------------------------------------------------

    def qsize(self) -> int:
        return self._queue.qsize() - (1 if self._ended else 0)

    async def get(self, timeout: float | None = None) -> AriEvent | None:  # noqa: ASYNC109 - a convenience over asyncio.timeout for the common read-with-deadline
        """The next event, or ``None`` once the stream has ended.

        Raises ``EventsLost`` if this subscription overflowed, the client's
        failure if its reader crashed, ``TimeoutError`` after ``timeout`` s.
        """
        async with asyncio.timeout(timeout):
            item = await self._queue.get()
        now = time.monotonic()
        if isinstance(item, _End):
            self._queue.put_nowait(item)  # later reads see the end too
            self._pending_since = None
            if item.error is not None:
                raise item.error
            return None
        queued_at, event = item
        self._pending_since = now if not self._queue.empty() else None
        self.stall_warned = False
        waited = now - queued_at
        if waited > SLOW_CONSUMER_S:
            log.warning(
                "slow event consumer",
                extra=kv(subscription=self.name, event=event.type, waited_s=round(waited, 3)),
            )
        return event

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> AriEvent:
        event = await self.get()
        if event is None:
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        self.end()
        if self._detach is not None:
            self._detach(self)
            self._detach = None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
