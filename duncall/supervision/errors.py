"""Why a supervision request failed, each with the HTTP status the console answers with."""

from __future__ import annotations

from foundation.errors import DuncallError, ServiceUnavailable


class SupervisionError(DuncallError):
    status = 409


class CallNotLive(SupervisionError):
    """No bot call with that attempt id is up (never was, or has ended)."""

    status = 404


class SessionNotFound(SupervisionError):
    status = 404


class CallTakenOver(SupervisionError):
    status = 409


class SwitchRefused(SupervisionError):
    status = 409


class EndpointRefused(SupervisionError):
    """The dial string asked for is not a supervisor endpoint this console may dial."""

    status = 400


class SupervisorUnreachable(ServiceUnavailable):
    """The supervisor's phone could not be rung or did not answer; retrying later may help."""
