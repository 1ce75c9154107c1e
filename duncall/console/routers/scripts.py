"""Script designer: list, open, validate, save (a new version each time), publish, graph, simulate."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from duncall.console import audit
from duncall.console import scripts as store
from duncall.console import simulate as sim
from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.errors import ApiError
from duncall.console.graph import script_svg
from duncall.console.roles import Permission
from duncall.console.state import Console

router = APIRouter(prefix="/api/scripts", tags=["scripts"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Reader = Annotated[Principal, Depends(require(Permission.SCRIPTS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.SCRIPTS_WRITE))]
Publisher = Annotated[Principal, Depends(require(Permission.SCRIPTS_PUBLISH))]
NAME_PATTERN = store.SCRIPT_NAME.pattern


class ScriptSummary(BaseModel):
    name: str
    latest_version: int
    latest_author: str | None
    latest_at: dt.datetime | None
    published_version: int | None
    file_exists: bool
    file_matches_latest: bool


class ScriptText(BaseModel):
    name: str
    version: int
    text: str
    author: str | None
    created_at: dt.datetime | None
    published: bool


class VersionInfo(BaseModel):
    version: int
    author: str
    created_at: dt.datetime
    note: str
    published_at: dt.datetime | None
    published_by: str | None


class LineProblem(BaseModel):
    line: int
    message: str


class Validation(BaseModel):
    valid: bool
    problems: list[LineProblem]


class ScriptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=store.MAX_SCRIPT_CHARS)


class SaveBody(ScriptBody):
    base_version: int | None = Field(
        default=None,
        ge=0,
        le=store.MAX_VERSION,
        description="the version the editor opened; a newer one on the server refuses the save",
    )
    note: str = Field(default="", max_length=500)


class PublishBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=store.MAX_VERSION)


class Published(BaseModel):
    name: str
    version: int
    path: str


class SimulateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(
        default=None, max_length=store.MAX_SCRIPT_CHARS, description="unsaved text to run"
    )
    turns: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=sim.MAX_TURNS)
    account: dict[str, Any] | None = None
    today: dt.date | None = None


class SimStep(BaseModel):
    speaker: str
    text: str
    state: str


class ScriptSimResult(BaseModel):
    steps: list[SimStep]
    done: bool
    state: str
    result: dict[str, Any]


PROBLEMS_422: dict[int | str, dict[str, Any]] = {
    422: {"description": "the script has problems: `problems` lists {line, message}"}
}


@router.get("", response_model=list[ScriptSummary])
def list_scripts(console: ConsoleDep, _: Reader) -> list[ScriptSummary]:
    with console.transaction() as db:
        return [
            ScriptSummary.model_validate(s, from_attributes=True)
            for s in store.list_scripts(db, console.settings.scripts_dir)
        ]


Name = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=84, description="<name>.<lang>, e.g. early_collection.en")
]


@router.get("/{name}", response_model=ScriptText, responses={404: {"description": "no such script"}})
def open_script(
    name: Name,
    console: ConsoleDep,
    _: Reader,
    version: Annotated[int | None, Query(ge=0, le=store.MAX_VERSION)] = None,
) -> ScriptText:
    """The latest saved version (or ``?version=N``; 0 is the published file in scripts/)."""
    with console.transaction() as db:
        found = store.open_version(db, console.settings.scripts_dir, name, version)
    return ScriptText.model_validate(found, from_attributes=True)


@router.get("/{name}/versions", response_model=list[VersionInfo])
def list_versions(name: Name, console: ConsoleDep, _: Reader) -> list[VersionInfo]:
    with console.transaction() as db:
        return [VersionInfo.model_validate(v, from_attributes=True) for v in store.versions(db, name)]


@router.post("/{name}/validate", response_model=Validation)
def validate(name: Name, body: ScriptBody, _: Reader) -> Validation:
    """Check text without saving it: every problem with its line."""
    problems = store.validate(name, body.text)[1]
    return Validation(
        valid=not problems, problems=[LineProblem(line=p.line, message=p.message) for p in problems]
    )


@router.put(
    "/{name}",
    response_model=VersionInfo,
    status_code=201,
    responses={**PROBLEMS_422, 409: {"description": "saved by someone else since base_version"}},
)
def save(name: Name, body: SaveBody, console: ConsoleDep, user: Writer) -> VersionInfo:
    """Save a new version if the text is valid; an invalid text changes nothing."""
    now = console.now()
    with console.transaction() as db:
        row = store.save(db, name, body.text, user.name, now, base_version=body.base_version, note=body.note)
        audit.record(db, now, user.name, "script_save", name, version=row.version, note=body.note)
        return VersionInfo.model_validate(row, from_attributes=True)


@router.post(
    "/{name}/publish",
    response_model=Published,
    responses={**PROBLEMS_422, 404: {"description": "no such version"}},
)
def publish(name: Name, body: PublishBody, console: ConsoleDep, user: Publisher) -> Published:
    """Write a saved version to scripts/<name>.yaml: from the next call on, debtors hear it."""
    now = console.now()
    with console.transaction() as db:
        path = store.publish(db, console.settings.scripts_dir, name, body.version, user.name, now)
        audit.record(db, now, user.name, "script_publish", name, version=body.version)
    return Published(name=name, version=body.version, path=str(path))


def _script_for(console: Console, name: str, text: str | None) -> Any:
    if text is None:
        with console.transaction() as db:
            text = store.open_version(db, console.settings.scripts_dir, name).text
    script, problems = store.validate(name, text)
    if script is None:
        first = problems[0] if problems else store.LineProblem(1, "the script could not be loaded")
        raise ApiError(
            422,
            f"the script has {len(problems)} problem(s); first at line {first.line}: {first.message}",
            "fix the script first",
            problems=[{"line": p.line, "message": p.message} for p in problems],
        )
    return script


@router.post("/{name}/graph", responses={200: {"content": {"image/svg+xml": {}}}, **PROBLEMS_422})
def graph_of_text(name: Name, body: ScriptBody, console: ConsoleDep, _: Reader) -> Response:
    """The states and transitions of the given (possibly unsaved) text, as SVG."""
    return Response(script_svg(_script_for(console, name, body.text)), media_type="image/svg+xml")


@router.get("/{name}/graph", responses={200: {"content": {"image/svg+xml": {}}}, **PROBLEMS_422})
def graph(name: Name, console: ConsoleDep, _: Reader) -> Response:
    """The latest version's states and transitions, as SVG."""
    return Response(script_svg(_script_for(console, name, None)), media_type="image/svg+xml")


@router.post("/{name}/simulate", response_model=ScriptSimResult, responses=PROBLEMS_422)
def simulate(name: Name, body: SimulateBody, console: ConsoleDep, _: Reader) -> ScriptSimResult:
    """Replay a text conversation through the dialogue engine (as `duncall flow simulate`)."""
    script = _script_for(console, name, body.text)
    today = body.today or console.now().date()
    try:
        result = sim.run(script, body.turns, console.classifier(), today, body.account)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ApiError(422, f"account.{where}: {first['msg']}", "fix the simulated account") from None
    return ScriptSimResult.model_validate(result, from_attributes=True)
