"""Call recordings for the QA page: where they come from, a small cache, and byte ranges.

A call's recording is the ARI stored recording named in ``call_records.audio_path``
(the bridge's mix, both parties). The console fetches it from Asterisk; a deployment
that archives recordings elsewhere points ``DUNCALL_RECORDINGS_DIR`` at the archive
(``<name>.wav`` files) instead. A finished recording never changes, so the bytes of
the last few are cached: a browser seeking in ``<audio>`` sends a request per seek.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from foundation.errors import ConfigError, DuncallError, ServiceUnavailable
from foundation.settings import AriSettings, ari_settings
from telephony.ari.errors import AriNotFound
from telephony.ari.rest import AriRest

RECORDING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
CACHE_MAX_BYTES = 64 * 1024 * 1024  # ~35 min of 8 kHz WAV; a 10-minute call is ~10 MB
RECORDING_SUFFIX = ".wav"  # the bot records bridges as format=wav


class RecordingMissing(DuncallError):
    """The store names a recording that its source does not have (deleted, or never written)."""


class RecordingSource(Protocol):
    async def fetch(self, name: str) -> bytes:
        """The recording's bytes; ``RecordingMissing`` if absent, ``ServiceUnavailable`` if unreachable."""
        ...


def check_name(name: str) -> str:
    if not RECORDING_NAME.match(name) or ".." in name:
        raise RecordingMissing(f"recording name {name!r} is not a stored recording's name", "")
    return name


class AriRecordings:
    """Stored recordings fetched from Asterisk over ARI (``GET /recordings/stored/{name}/file``)."""

    def __init__(self, settings: Callable[[], AriSettings] = ari_settings) -> None:
        self._settings = settings

    async def fetch(self, name: str) -> bytes:
        check_name(name)
        try:
            settings = self._settings()
        except ConfigError as exc:
            raise ServiceUnavailable(
                f"no way to reach Asterisk for recordings: {exc.what}", exc.fix
            ) from None
        rest = AriRest(settings)
        try:
            return await rest.fetch_stored_recording(name)
        except AriNotFound:
            raise RecordingMissing(
                f"Asterisk has no stored recording {name!r}", "it may have been deleted or archived"
            ) from None
        finally:
            await rest.aclose()


class DirectoryRecordings:
    """Recordings archived as ``<dir>/<name>.wav``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def fetch(self, name: str) -> bytes:
        path = self.root / f"{check_name(name)}{RECORDING_SUFFIX}"
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise RecordingMissing(
                f"no recording {name!r} in {self.root}", "check DUNCALL_RECORDINGS_DIR"
            ) from None
        except OSError as exc:
            raise ServiceUnavailable(
                f"cannot read recording {name!r} in {self.root}: {exc.strerror}",
                "check the archive's permissions",
            ) from None


class CachedRecordings:
    """The last recordings fetched, up to ``max_bytes`` in all (least recently used goes first)."""

    def __init__(self, source: RecordingSource, max_bytes: int = CACHE_MAX_BYTES) -> None:
        self.source = source
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        # A thread lock, not an asyncio one: the console may serve from more than one event loop
        # (tests run several), and nothing awaits while holding it.
        self._lock = threading.Lock()

    async def fetch(self, name: str) -> bytes:
        with self._lock:
            data = self._cache.get(name)
            if data is not None:
                self._cache.move_to_end(name)
                return data
        data = await self.source.fetch(name)
        if len(data) <= self.max_bytes:
            with self._lock:
                if name not in self._cache:
                    self._cache[name] = data
                    self._size += len(data)
                while self._size > self.max_bytes:
                    _, dropped = self._cache.popitem(last=False)
                    self._size -= len(dropped)
        return data

    def forget(self, names: Iterable[str]) -> None:
        """Drop erased recordings: no copy of a debtor's voice outlives their erasure here."""
        with self._lock:
            for name in names:
                data = self._cache.pop(name, None)
                if data is not None:
                    self._size -= len(data)


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class RangeNotSatisfiable(ValueError):
    pass


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range a ``Range`` header asks of ``size`` bytes; None → send it all.

    A header this does not understand (another unit, several ranges) is ignored, as
    RFC 9110 allows: the whole body is sent with 200. A range wholly past the end is
    ``RangeNotSatisfiable`` (416).
    """
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(max(0, size - n), size - 1)
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable(header)
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None  # malformed: ignore it
    return ByteRange(start, end)


def source_from_env(archive_dir: str | None) -> RecordingSource:
    inner: RecordingSource = DirectoryRecordings(Path(archive_dir)) if archive_dir else AriRecordings()
    return CachedRecordings(inner)
