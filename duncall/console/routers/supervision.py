"""Supervisors on live calls: listen, whisper, barge, take over (admins and supervisors).

Bot calls and collectors' calls (an agent campaign's, a desk's) alike; a collector's call
cannot be taken over.  The supervisor is rung on their own endpoint
(``PJSIP/supervisor-<user>`` by default) and connected to the call once they answer, so
starting a session returns after the phone is picked up.  That endpoint may be the live
board's own softphone: ``GET /api/live/phone`` hands the page the supervisor's WebRTC
credentials (``duncall supervisors phone USER``) over their logged-in session.  Every action is audited with who and
when before it is carried out (``supervise_<mode>``, ``supervise_end``,
``supervise_failed``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from duncall.console import audit
from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.errors import ApiError
from duncall.console.roles import Permission, Role
from duncall.console.state import Console
from duncall.sandbox.phones import supervisor_phone_of
from duncall.supervision import settings as supervision_settings
from duncall.supervision.errors import SupervisionError
from duncall.supervision.modes import Mode
from duncall.supervision.service import AuditSink, SessionView, SupervisionService
from foundation.errors import ConfigError
from telephony.live.registry import LiveCallRegistry

router = APIRouter(prefix="/api/live", tags=["supervision"])
Supervisor = Annotated[Principal, Depends(require(Permission.LIVE_SUPERVISE))]
ID = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "the endpoint asked for is not a supervisor endpoint"},
    404: {"description": "no such live call or supervision session (or it has ended)"},
    409: {"description": "the call was taken over, or the switch is not possible"},
    503: {"description": "Asterisk or Redis is unreachable, or the supervisor's phone did not answer"},
}

OWNED_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"description": "the session is another supervisor's (only they or an admin may change it)"},
}


class Supervise(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode
    endpoint: str | None = Field(
        default=None,
        max_length=100,
        description="dial string of the supervisor's phone; default the configured one for the user",
    )


class Switch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode


class SessionOut(BaseModel):
    session_id: str
    attempt_id: str
    mode: Mode
    user: str
    endpoint: str
    started_at: dt.datetime


class SupervisableCall(BaseModel):
    attempt_id: str
    language: str
    started_at: dt.datetime
    taken_over_by: str | None
    kind: str  # "bot", or "agent": a collector's call (no take-over)
    agent_id: str | None


class Phone(BaseModel):
    ws_url: str
    uri: str
    password: str
    endpoint: str  # what the console rings: the default endpoint when the user name matches


def audit_sink(console: Console) -> AuditSink:
    def write(user: str, action: str, target: str, detail: dict[str, Any]) -> None:
        with console.transaction() as db:
            audit.record(db, console.now(), user, action, target, **detail)

    return write


def get_supervision(request: Request) -> SupervisionService:
    """The app's one service, made on first use (the console runs without Asterisk until then)."""
    service: SupervisionService | None = getattr(request.app.state, "supervision", None)
    if service is None:
        console = get_console(request)
        service = SupervisionService(
            supervision_settings.from_env(),
            LiveCallRegistry.from_env(console.settings.redis_url, console.live_prefix),
            audit=audit_sink(console),
            clock=console.now,
        )
        request.app.state.supervision = service
    return service


Service = Annotated[SupervisionService, Depends(get_supervision)]


def _out(view: SessionView) -> SessionOut:
    return SessionOut(
        session_id=view.session_id,
        attempt_id=view.attempt_id,
        mode=view.mode,
        user=view.user,
        endpoint=view.endpoint,
        started_at=view.started_at,
    )


def _api_error(exc: SupervisionError | ConfigError) -> ApiError:
    if isinstance(exc, ConfigError):  # no ARI credentials: Asterisk cannot be reached at all
        return ApiError(503, exc.what, exc.fix)
    return ApiError(exc.status, exc.what, exc.fix)


@router.post("/calls/{attempt_id}/supervise", status_code=201, responses=ERRORS)
async def supervise(attempt_id: ID, body: Supervise, service: Service, user: Supervisor) -> SessionOut:
    """Ring the caller's phone and connect it to the live call in ``mode``."""
    try:
        return _out(await service.supervise(attempt_id, user.name, body.mode, body.endpoint))
    except (SupervisionError, ConfigError) as exc:
        raise _api_error(exc) from None


def _owned(service: SupervisionService, session_id: str, user: Principal) -> None:
    """Only the supervisor who started a session, or an admin, may switch or end it: otherwise a
    colleague could take over a call that the audit then records under the starter's session."""
    view = next((v for v in service.sessions() if v.session_id == session_id), None)
    if view is not None and view.user != user.name and user.role is not Role.ADMIN:
        raise ApiError(
            403,
            f"supervision session {session_id} belongs to {view.user}",
            "only they or an admin may switch or end it; start a session of your own",
        )


@router.post("/supervision/{session_id}", responses=OWNED_ERRORS)
async def switch(session_id: ID, body: Switch, service: Service, user: Supervisor) -> SessionOut:
    """Switch an active session to another mode (a take-over is final). The session's own
    supervisor or an admin only."""
    _owned(service, session_id, user)
    try:
        return _out(await service.switch(session_id, user.name, body.mode))
    except (SupervisionError, ConfigError) as exc:
        raise _api_error(exc) from None


@router.delete("/supervision/{session_id}", status_code=204, responses=OWNED_ERRORS)
async def end(session_id: ID, service: Service, user: Supervisor) -> Response:
    """End the session; on a taken-over call this ends the call. The session's own supervisor
    or an admin only."""
    _owned(service, session_id, user)
    try:
        await service.end(session_id, user.name)
    except SupervisionError as exc:
        raise _api_error(exc) from None
    return Response(status_code=204)


@router.get("/supervision")
def sessions(service: Service, _: Supervisor) -> list[SessionOut]:
    """Active sessions, oldest first."""
    return [_out(v) for v in service.sessions()]


@router.get("/supervision/calls", responses={503: ERRORS[503]})
async def supervisable(service: Service, _: Supervisor) -> list[SupervisableCall]:
    """Calls that can be supervised now (bridged and listed by their dialer), oldest first."""
    calls = await service.live_calls()
    return [
        SupervisableCall(
            attempt_id=c.attempt_id,
            language=c.language,
            started_at=c.started_at,
            taken_over_by=c.taken_over_by,
            kind=c.kind.value,
            agent_id=c.agent_id or None,
        )
        for c in calls
    ]


@router.get("/phone", responses={404: {"description": "no browser phone was made for this user"}})
def phone(request: Request, user: Supervisor, response: Response) -> Phone:
    """The supervisor's own softphone credentials (never cached): the live board registers with
    them and answers the console's supervision calls in the browser."""
    console = get_console(request)
    mine = supervisor_phone_of(user.name)
    if mine is None:
        raise ApiError(
            404,
            f"console user {user.name!r} has no browser phone",
            f"an admin makes it: duncall supervisors phone {user.name}",
        )
    response.headers["Cache-Control"] = "no-store"
    ws = console.settings.sip_ws_url
    return Phone(
        ws_url=ws,
        uri=f"sip:{mine.username}@{urlsplit(ws).hostname}",
        password=mine.password,
        endpoint=f"PJSIP/{mine.username}",
    )
