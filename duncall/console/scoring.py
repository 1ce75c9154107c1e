"""The QA scoring form: sections of yes/no questions with weights, some of which fail the call.

Pure: a form (validated once, when it is loaded) and a reviewer's answers in, a score out.

- The score is the weight answered ``yes`` over the weight answered ``yes`` or ``no``, as
  a percentage (``na`` answers, where a question allows them, count on neither side).
- A ``fail_all`` question answered ``no`` fails the call: its score is 0, whatever else
  went well. That is how collection QA treats a missing mini-Miranda or a threat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from foundation.config import Strict, read_yaml, validate
from foundation.errors import ConfigError
from foundation.settings import get_settings

QA_FORM_FILE = Path(__file__).resolve().parent / "qa_form.yaml"
ANSWERS = ("yes", "no", "na")
Answer = Literal["yes", "no", "na"]
Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
MAX_COMMENT_CHARS = 4000


class Question(Strict):
    id: Ident
    text: Annotated[str, Field(min_length=1, max_length=300)]
    weight: Annotated[float, Field(ge=0, le=1000)] = 1.0
    fail_all: bool = False
    na: bool = False  # the reviewer may answer "not applicable"


class Section(Strict):
    id: Ident
    title: Annotated[str, Field(min_length=1, max_length=120)]
    questions: Annotated[tuple[Question, ...], Field(min_length=1)]


class QaForm(Strict):
    form: Ident
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]
    title: Annotated[str, Field(min_length=1, max_length=120)]
    sections: Annotated[tuple[Section, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _ids_unique_and_something_weighs(self) -> QaForm:
        seen: set[str] = set()
        for section in self.sections:
            for q in section.questions:
                if q.id in seen:
                    raise ValueError(f"question id {q.id!r} is used twice")
                seen.add(q.id)
        if not any(q.weight > 0 for q in self.questions()):
            raise ValueError("no question has a weight above 0, so no call could score")
        return self

    def questions(self) -> tuple[Question, ...]:
        return tuple(q for s in self.sections for q in s.questions)


@dataclass(frozen=True, slots=True)
class Scored:
    score: float  # 0–100, one decimal
    failed: bool
    failed_items: tuple[str, ...]  # fail-all questions answered no, in form order


class AnswersInvalid(ValueError):
    """The answers do not fit the form; ``problems`` says which, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def score(form: QaForm, answers: Mapping[str, str]) -> Scored:
    """Score ``answers`` (question id → yes | no | na); every question must be answered."""
    questions = form.questions()
    known = {q.id for q in questions}
    problems = [
        f"{qid!r} is not a question of form {form.form} v{form.version}"
        for qid in answers
        if qid not in known
    ]
    for q in questions:
        given = answers.get(q.id)
        if given is None:
            problems.append(f"{q.id!r} is not answered")
        elif given not in ANSWERS:
            problems.append(f"{q.id!r}: {given!r} is not one of yes, no, na")
        elif given == "na" and not q.na:
            problems.append(f"{q.id!r} must be answered yes or no (it has no 'not applicable')")
    if problems:
        raise AnswersInvalid(problems)
    failed_items = tuple(q.id for q in questions if q.fail_all and answers[q.id] == "no")
    earned = sum(q.weight for q in questions if answers[q.id] == "yes")
    possible = sum(q.weight for q in questions if answers[q.id] in ("yes", "no"))
    value = 0.0 if failed_items else (100.0 if possible == 0 else round(100 * earned / possible, 1))
    return Scored(value, bool(failed_items), failed_items)


def load_form(path: Path | None = None) -> QaForm:
    """The form from ``path``, else ``DUNCALL_CONSOLE_QA_FORM``, else the shipped one; checked whole."""
    if path is None:
        path = get_settings().console_qa_form or QA_FORM_FILE
    fix = "fix the file, or set DUNCALL_CONSOLE_QA_FORM to a valid form (see duncall/console/qa_form.yaml)"
    try:
        return validate(QaForm, read_yaml(path, "QA form"), fix)
    except ConfigError as exc:
        raise ConfigError(exc.what, fix) from None
