"""Errors the ARI client raises, on top of ``foundation.errors``.

Transport failures are ``ServiceUnavailable`` (retryable) and refused
credentials ``AuthError``; everything Asterisk itself answers with a 4xx/5xx is
an ``AriError`` carrying the HTTP status and Asterisk's own message.
"""

from __future__ import annotations

from foundation.errors import DuncallError, ServiceUnavailable

UNREACHABLE_FIX = "run `duncall asterisk up` or check DUNCALL_ARI_URL"
CREDENTIALS_FIX = (
    "check DUNCALL_ARI_USER/DUNCALL_ARI_PASSWORD, or run `duncall asterisk up` to regenerate "
    "~/.cache/duncall/ari.json"
)


class AriError(DuncallError):
    """Asterisk answered a REST request with an error status.

    ``status`` is the HTTP status, ``message`` what Asterisk said (its JSON
    ``message`` field, or the raw body). Only 5xx is retryable: a 404 for a
    channel that hung up stays a 404.
    """

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        super().__init__(
            f"ARI {method} {path} failed with {status}: {message}",
            _FIX_BY_STATUS.get(status, "see the Asterisk log (`duncall asterisk status`)"),
            retryable=status >= 500,
        )


class AriBadRequest(AriError):
    """400: a parameter is missing or malformed."""


class AriNotFound(AriError):
    """404: the channel, bridge, playback or recording does not exist (any more)."""


class AriConflict(AriError):
    """409: the resource is in the wrong state (e.g. a channel not in a Stasis application)."""


class AriUnprocessable(AriError):
    """422: the request is well formed but refers to something unusable (e.g. a bridge not yet ready)."""


class AriServerError(AriError):
    """5xx: Asterisk failed internally; retrying may help."""


_FIX_BY_STATUS = {
    400: "check the request parameters against the ARI documentation",
    404: "the resource is gone; a channel may already have hung up",
    409: "the resource is in the wrong state for this operation (is the channel in Stasis?)",
    422: "a referenced resource is unusable; wait for its StasisStart before using it",
}

_CLASS_BY_STATUS: dict[int, type[AriError]] = {
    400: AriBadRequest,
    404: AriNotFound,
    409: AriConflict,
    422: AriUnprocessable,
}


def error_for_status(method: str, path: str, status: int, message: str) -> AriError:
    cls = _CLASS_BY_STATUS.get(status, AriServerError if status >= 500 else AriError)
    return cls(method, path, status, message)


class EventsLost(DuncallError):
    """A subscriber's queue overflowed: events for it were dropped, so its view of the call is wrong.

    Raised from the subscriber's next read rather than dropping silently; the
    owner should reconcile (``get_channel``) or give up the call.
    """

    def __init__(self, what: str) -> None:
        super().__init__(what, "consume events faster, or subscribe with a larger queue", retryable=False)


class EventTimeout(DuncallError, TimeoutError):
    """No matching event arrived in time. Also a ``TimeoutError``, so either can be caught."""

    def __init__(self, what: str) -> None:
        super().__init__(what, "check that the call reached the Stasis application", retryable=True)


def unreachable(url: str, detail: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"cannot reach Asterisk ARI at {url} ({detail})", UNREACHABLE_FIX)
