"""QA: search calls, open one, play its recording, score it, export calls and scores as CSV.

Names and numbers are masked without the PII right.
"""

from __future__ import annotations

import datetime as dt
import wave
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dialer.store.models import Account, CallAttempt
from dialer.store.models.transcripts import TranscriptTurn
from duncall.console import audit, qa
from duncall.console.auth import Principal
from duncall.console.bleep import TurnTiming, bleep_wav
from duncall.console.deps import get_console, require
from duncall.console.errors import ApiError
from duncall.console.recordings import RangeNotSatisfiable, RecordingMissing, parse_range
from duncall.console.roles import Permission, can
from duncall.console.scoring import MAX_COMMENT_CHARS
from duncall.console.state import Console
from foundation.errors import ServiceUnavailable

router = APIRouter(prefix="/api/calls", tags=["qa"])
BleepInputs = tuple[list[TurnTiming], list[str], list[str]]
ConsoleDep = Annotated[Console, Depends(get_console)]
Reader = Annotated[Principal, Depends(require(Permission.CALLS_READ))]
Exporter = Annotated[Principal, Depends(require(Permission.CALLS_EXPORT))]
Scorer = Annotated[Principal, Depends(require(Permission.CALLS_SCORE))]
AttemptId = Annotated[str, Path(max_length=36)]
FLAG_KINDS = ("forbidden_phrase", "debt_before_verification", "missing_disclosure")
REVIEW_STATES = ("unscored", "scored", "failed")


def _query(
    date_from: Annotated[dt.date | None, Query(description="first day (UTC), YYYY-MM-DD")] = None,
    date_to: Annotated[dt.date | None, Query(description="last day (UTC), inclusive")] = None,
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    disposition: Annotated[str | None, Query(max_length=32)] = None,
    intent: Annotated[str | None, Query(max_length=32)] = None,
    script: Annotated[str | None, Query(max_length=100, description="e.g. early_collection.en")] = None,
    script_version: Annotated[
        int | None, Query(ge=0, le=2**31 - 1, description="saved version; 0 = the file no save knows")
    ] = None,
    flag: Annotated[str | None, Query(max_length=32, description=" | ".join(FLAG_KINDS))] = None,
    review: Annotated[
        str | None, Query(max_length=16, description="unscored | scored | failed (by any reviewer)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=qa.MAX_RESULTS)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> qa.CallQuery:
    if date_from and date_to and date_to < date_from:
        raise ApiError(400, f"date_to {date_to} is before date_from {date_from}", "swap them")
    if flag is not None and flag not in FLAG_KINDS:
        raise ApiError(400, f"unknown flag {flag!r}", f"use one of: {', '.join(FLAG_KINDS)}")
    if review is not None and review not in REVIEW_STATES:
        raise ApiError(400, f"unknown review state {review!r}", f"use one of: {', '.join(REVIEW_STATES)}")
    return qa.CallQuery(
        date_from, date_to, campaign, disposition, intent, flag, script, script_version, review, limit, offset
    )


QueryDep = Annotated[qa.CallQuery, Depends(_query)]


def _rules(console: Console) -> qa.FlagRules:
    return qa.FlagRules(console.settings.forbidden_phrases, console.settings.forbidden_match_score)


@router.get("")
def search(query: QueryDep, console: ConsoleDep, user: Reader) -> list[dict[str, Any]]:
    """Calls newest first, each with its automatic QA flags. Audited (a list of debtors is a read of their data)."""
    show_pii = can(user.role, Permission.PII_READ)
    with console.transaction() as db:
        rows = qa.search(db, query, _rules(console), show_pii)
        audit.record(
            db,
            console.now(),
            user.name,
            "calls_list",
            "",
            rows=len(rows),
            pii=show_pii,
            query={k: str(v) for k, v in vars_of(query).items() if v is not None},
        )
        return rows


@router.get("/export.csv", responses={200: {"content": {"text/csv": {}}}})
def export_csv(query: QueryDep, console: ConsoleDep, user: Exporter) -> Response:
    """The same search as CSV (masked as on screen); the export itself is audited."""
    show_pii = can(user.role, Permission.PII_READ)
    with console.transaction() as db:
        rows = qa.search(db, query, _rules(console), show_pii)
        audit.record(
            db,
            console.now(),
            user.name,
            "calls_export",
            "",
            rows=len(rows),
            pii=show_pii,
            query={k: str(v) for k, v in vars_of(query).items() if v is not None},
        )
    return Response(
        qa.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="duncall-calls.csv"'},
    )


def vars_of(query: qa.CallQuery) -> dict[str, object]:
    return {name: getattr(query, name) for name in query.__slots__}


@router.get("/scores.csv", responses={200: {"content": {"text/csv": {}}}})
def export_scores_csv(query: QueryDep, console: ConsoleDep, user: Exporter) -> Response:
    """QA scores of the calls the search finds, one row per reviewer, with the calls' flags."""
    show_pii = can(user.role, Permission.PII_READ)
    with console.transaction() as db:
        calls = qa.search(db, query, _rules(console), show_pii)
        text = qa.scores_csv(db, calls, console.settings.qa_form)
        audit.record(
            db,
            console.now(),
            user.name,
            "scores_export",
            "",
            calls=len(calls),
            query={k: str(v) for k, v in vars_of(query).items() if v is not None},
        )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="duncall-qa-scores.csv"'},
    )


@router.get("/qa-form")
def qa_form(console: ConsoleDep, user: Reader) -> dict[str, Any]:
    """The scoring form reviewers fill in: sections of questions with weights and fail-all items."""
    return console.settings.qa_form.model_dump()


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[Annotated[str, Field(max_length=48)], Annotated[str, Field(max_length=16)]] = Field(
        max_length=200, description="question id → yes | no | na"
    )
    comment: Annotated[str, Field(max_length=MAX_COMMENT_CHARS)] = ""


@router.get("/{attempt_id}", responses={404: {"description": "no such call"}})
def open_call(attempt_id: AttemptId, console: ConsoleDep, user: Reader) -> dict[str, Any]:
    """One call: transcript with timings, path, guard decisions, QA flags and scores. Audited."""
    show_pii = can(user.role, Permission.PII_READ)
    with console.transaction() as db:
        detail = qa.call_detail(
            db, attempt_id, _rules(console), show_pii, console.settings.qa_transcript_only
        )
        audit.record(db, console.now(), user.name, "call_open", attempt_id, pii=show_pii)
    return detail


@router.get("/{attempt_id}/scores", responses={404: {"description": "no such call"}})
def call_scores(attempt_id: AttemptId, console: ConsoleDep, user: Reader) -> list[dict[str, Any]]:
    """Every reviewer's score of the call, oldest first."""
    with console.transaction() as db:
        return qa.call_scores(db, attempt_id)


@router.put(
    "/{attempt_id}/scores/mine",
    responses={404: {"description": "no such call"}, 409: {"description": "the call has not ended"}},
)
def score_call(attempt_id: AttemptId, body: ScoreIn, console: ConsoleDep, user: Scorer) -> dict[str, Any]:
    """Score the call on the QA form as the logged-in reviewer (again: replaces your score). Audited."""
    with console.transaction() as db:
        row, previous = qa.save_score(
            db, attempt_id, user.name, console.settings.qa_form, body.answers, body.comment, console.now()
        )
        audit.record(
            db,
            console.now(),
            user.name,
            "call_score",
            attempt_id,
            form=row.form,
            form_version=row.form_version,
            score=row.score,
            failed=row.failed,
            failed_items=list(row.failed_items),
            previous=None if previous is None else {"score": previous["score"], "failed": previous["failed"]},
        )
        return qa.score_view(row)


@router.get(
    "/{attempt_id}/recording",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "the whole recording"},
        403: {"description": "the role may not play recordings (DUNCALL_CONSOLE_QA_TRANSCRIPT_ONLY)"},
        206: {"content": {"audio/wav": {}}, "description": "the byte range asked for"},
        404: {"description": "no such call, or it has no recording"},
        416: {"description": "the range is past the end"},
        503: {"description": "Asterisk (or the archive) is unreachable"},
    },
)
async def recording(attempt_id: AttemptId, request: Request, console: ConsoleDep, user: Reader) -> Response:
    """The call's recording (both parties, WAV), with byte ranges so the player can seek.

    Every request is audited before a byte is served, whatever range it asks for (the voice
    is the debtor's, whatever the role): a download in pieces is as visible as a play."""
    range_header = request.headers.get("range")
    if console.settings.qa_transcript_only and not can(user.role, Permission.PII_READ):
        # The bot says the debtor's full name in the recording; a masked transcript is what QA reads.
        raise ApiError(
            403,
            "recordings are not played to roles without pii_read (transcript-only review)",
            "review the transcript, where names are masked; an operator may set "
            "DUNCALL_CONSOLE_QA_TRANSCRIPT_ONLY=0",
        )

    # Roles without pii_read hear the debtor's name and number bleeped (duncall/console/bleep.py).
    masked = not can(user.role, Permission.PII_READ)

    def lookup() -> tuple[str, BleepInputs | None]:
        with console.transaction() as db:
            name = qa.recording_name(db, attempt_id)
            audit.record(
                db,
                console.now(),
                user.name,
                "recording_play",
                attempt_id,
                range=(range_header or "")[:100],
                bleeped=masked,
            )
            return name, (_bleep_inputs(db, attempt_id) if masked else None)

    name, bleep_with = await run_in_threadpool(lookup)
    try:
        data = await console.settings.recordings.fetch(name)
    except RecordingMissing as exc:
        raise ApiError(404, f"the recording of call {attempt_id!r} is missing: {exc.what}", exc.fix) from None
    except ServiceUnavailable as exc:
        raise ApiError(
            503, f"cannot fetch the recording: {exc.what}", exc.fix or "retry when Asterisk is up"
        ) from None
    if bleep_with is not None:
        try:
            data = await run_in_threadpool(bleep_wav, data, *bleep_with)
        except (ValueError, EOFError, wave.Error):
            # Not a recording the bleeper can read: serving it unmasked is what must not happen.
            raise ApiError(
                403,
                f"the recording of call {attempt_id!r} cannot be masked for this role",
                "review the transcript, where names are masked",
            ) from None
    size = len(data)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(
            status_code=416,
            headers={**headers, "Content-Range": f"bytes */{size}"},
            content=f'{{"error": "range {range_header} is past the end ({size} bytes)", "fix": "ask within the file"}}',
            media_type="application/json",
        )
    if wanted is None:
        return Response(data, media_type="audio/wav", headers=headers)
    return Response(
        data[wanted.start : wanted.end + 1],
        status_code=206,
        media_type="audio/wav",
        headers={**headers, "Content-Range": f"bytes {wanted.start}-{wanted.end}/{size}"},
    )


def _bleep_inputs(db: Session, attempt_id: str) -> BleepInputs:
    """The call's turn timings and the words to bleep: the debtor's names and numbers."""
    turns = [
        TurnTiming(t.text, t.started_s, t.ended_s)
        for t in db.scalars(
            select(TranscriptTurn).where(TranscriptTurn.attempt_id == attempt_id).order_by(TranscriptTurn.seq)
        )
    ]
    account_id = db.scalar(select(CallAttempt.account_id).where(CallAttempt.attempt_id == attempt_id))
    account = db.get(Account, account_id) if account_id else None
    names: list[str] = []
    numbers: list[str] = []
    if account is not None:
        names = [n for n in (account.first_name, account.last_name) if n]
        numbers = [p.number for p in account.phones]
    number = db.scalar(select(CallAttempt.number).where(CallAttempt.attempt_id == attempt_id))
    if number:
        numbers.append(number)
    return turns, names, numbers
