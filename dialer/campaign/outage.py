"""A campaign's pause while a service its dials need is away, lifted by itself when it returns.

Every dial needs Redis (the guard's counters, the pacer) and the database (the
guard's ledger, the attempt rows).  When one of them fails before an originate
(``dialer.dial.pipeline.DialNotPlaced``) nothing is dialled — no dial without a
recorded decision — and the campaign is held: ``report`` starts one recovery
task that shows the hold (the control record, the live board), probes the
services with a growing delay, and lifts the hold once the probe passes.  The
dials that were held then try again, each under a new guard decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from foundation.errors import ServiceUnavailable
from foundation.log import kv

log = logging.getLogger(__name__)

PROBE_FIRST_S = 0.5  # the first wait before probing the services again
PROBE_LONGEST_S = 10.0  # the wait doubles up to this

Probe = Callable[[], Awaitable[None]]  # raises while a service is away
Notify = Callable[[str], Awaitable[None]]  # the hold's reason; "" when lifted


class Outage:
    """Whether new dials wait for a service; at most one recovery task at a time."""

    def __init__(
        self,
        probe: Probe | None = None,
        *,
        notify: Notify | None = None,
        first_s: float = PROBE_FIRST_S,
        longest_s: float = PROBE_LONGEST_S,
    ) -> None:
        self.probe = probe  # None: the held dials simply try again after the wait
        self.notify = notify
        self.first_s = first_s
        self.longest_s = longest_s
        self.reason = ""
        self.holds = 0  # outages seen (reported by tests and the summary)
        self._clear = asyncio.Event()
        self._clear.set()
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return not self._clear.is_set()

    def report(self, cause: ServiceUnavailable) -> None:
        """A dial found a service away: hold new dials until it is back."""
        if self._task is not None and not self._task.done():
            return
        self.holds += 1
        self.reason = cause.what
        self._clear.clear()
        self._task = asyncio.create_task(self._recover(), name="campaign-outage")

    async def wait(self) -> None:
        """Return once no service is known to be away."""
        await self._clear.wait()

    async def _recover(self) -> None:
        log.warning("campaign held: a service is unavailable", extra=kv(reason=self.reason))
        await self._notify(self.reason)
        wait_s = self.first_s
        tries = 0
        try:
            while True:
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, self.longest_s)
                tries += 1
                if self.probe is None:
                    break
                try:
                    await self.probe()
                    break
                except ServiceUnavailable as exc:
                    self.reason = exc.what
                    if tries % 10 == 0:
                        log.warning("services still unavailable", extra=kv(tries=tries, reason=exc.what))
        finally:
            self.reason = ""
            self._clear.set()
        log.warning("campaign resumes: the services are back", extra=kv(tries=tries))
        await self._notify("")

    async def _notify(self, reason: str) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(reason)
        except Exception:
            # Showing the hold is a view; the hold itself is this object.
            log.warning("could not show the campaign's hold", exc_info=True)

    async def __aenter__(self) -> Outage:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
