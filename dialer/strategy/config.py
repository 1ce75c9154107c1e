"""Load a strategy YAML file, validate it with pydantic, freeze it for the policy.

Every error names the file and the field (``strategies/x.yaml: stages[2].retry_after.busy:
…``).  See strategies/default.yaml for a commented example.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from dialer.strategy.contact_time import BestTime
from dialer.strategy.ladder import (
    Ladder,
    LadderStep,
    LetterKind,
    StepChannel,
    StepCondition,
    StopKind,
)
from dialer.strategy.model import ContactChannel, Stage, StageName, Strategy
from foundation.config import Strict, parse_duration, parse_yaml, read_yaml, validate
from foundation.contract import CallOutcome

LANGUAGES = ("en", "zh")


Duration = Annotated[str | int, Field(description="30m, 4h, 2d or seconds")]


class RetrySpacing(Strict):
    busy: Duration | None = None
    no_answer: Duration | None = None
    voicemail: Duration | None = None
    abandoned: Duration | None = None
    failed: Duration | None = None
    answered: Duration | None = None  # a conversation without a promise, e.g. refused

    @field_validator("*")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    def merged_over(self, base: RetrySpacing) -> dict[CallOutcome, dt.timedelta]:
        out: dict[CallOutcome, dt.timedelta] = {}
        for outcome in CallOutcome:
            value = getattr(self, outcome.value) or getattr(base, outcome.value)
            if value is not None:
                out[outcome] = parse_duration(value)
        return out


def _check_scripts(value: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"unknown language {', '.join(unknown)} (use {', '.join(LANGUAGES)})")
    if "en" not in value:
        raise ValueError("an en script is required (the fallback for every language)")
    for lang, script in value.items():
        if not re.fullmatch(r"[a-z0-9_]+", script):
            raise ValueError(f"script name {script!r} for {lang} must be lowercase letters, digits and _")
    return value


class StageConfig(Strict):
    stage: StageName
    dpd_min: int
    dpd_max: int | None = None
    risk_segments: list[str] | None = None
    channel: ContactChannel = ContactChannel.VOICE_BOT
    scripts: dict[str, str]
    max_attempts: int = Field(ge=1, le=100)
    retry_after: RetrySpacing = RetrySpacing()

    @field_validator("scripts")
    @classmethod
    def _scripts(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_scripts(value)

    @model_validator(mode="after")
    def _range(self) -> StageConfig:
        if self.dpd_max is not None and self.dpd_max < self.dpd_min:
            raise ValueError(f"dpd_max {self.dpd_max} is below dpd_min {self.dpd_min}")
        if self.risk_segments is not None and not self.risk_segments:
            raise ValueError("risk_segments is empty; leave it out to match every segment")
        return self


class WhenConfig(Strict):
    currency: list[str] | None = None  # e.g. [USD]: US accounts
    language: list[str] | None = None
    first_of_kind: bool = False  # only for an account that never had this step's content

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: list[str] | None) -> list[str] | None:
        for code in value or ():
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"currency {code!r} is not an ISO 4217 code such as USD or CNY")
        return value


class StepConfig(Strict):
    name: str
    at: int = Field(ge=-90, le=365, description="days relative to the due date; -3: three days before")
    channel: StepChannel
    stage: str | None = None  # template stage (sms, email: default reminder), letter kind, call stage
    stop_on: list[StopKind] | None = None  # default: the ladder's
    when: WhenConfig = WhenConfig()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9_]{1,32}", value):
            raise ValueError(f"step name {value!r} must be 1-32 lowercase letters, digits and _")
        return value

    @model_validator(mode="after")
    def _stage(self) -> StepConfig:
        if self.channel is StepChannel.LETTER:
            kinds = ", ".join(k.value for k in LetterKind)
            if self.stage not in {k.value for k in LetterKind}:
                raise ValueError(f"a letter step needs stage: one of {kinds}")
        elif self.when.first_of_kind:
            raise ValueError(
                "when.first_of_kind is for letter steps (a message step is once per cycle anyway)"
            )
        elif self.stage is not None and not re.fullmatch(r"[a-z0-9_]{1,32}", self.stage):
            raise ValueError(f"stage {self.stage!r} must be lowercase letters, digits and _")
        return self


class LadderConfig(Strict):
    stop_on: list[StopKind] = Field(
        default_factory=lambda: [StopKind.REPLY, StopKind.PROMISE, StopKind.PAYMENT]
    )
    catch_up_days: int = Field(default=2, ge=0, le=30)
    hold_calls: bool = False  # no call before the first call step's day
    steps: list[StepConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _order(self) -> LadderConfig:
        names = [s.name for s in self.steps]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"step names must be unique: {', '.join(twice)} appears twice")
        for i in range(1, len(self.steps)):
            if self.steps[i].at < self.steps[i - 1].at:
                raise ValueError(
                    f"steps[{i}] ({self.steps[i].name}, at {self.steps[i].at}) comes before "
                    f"steps[{i - 1}] ({self.steps[i - 1].name}, at {self.steps[i - 1].at}): order steps by day"
                )
        return self

    def freeze(self) -> Ladder:
        return Ladder(
            steps=tuple(
                LadderStep(
                    name=s.name,
                    at=s.at,
                    channel=s.channel,
                    stage=s.stage or ("reminder" if s.channel.is_message else s.channel.value),
                    stop_on=frozenset(s.stop_on if s.stop_on is not None else self.stop_on),
                    when=StepCondition(
                        currencies=frozenset(s.when.currency or ()),
                        languages=frozenset(s.when.language or ()),
                        first_of_kind=s.when.first_of_kind,
                    ),
                )
                for s in self.steps
            ),
            catch_up_days=self.catch_up_days,
            hold_calls=self.hold_calls,
        )


class BestTimeConfig(Strict):
    """``best_time:``: dial first the accounts most likely to answer at this local hour."""

    segment_strength: float = Field(default=20.0, ge=0, le=10_000)
    account_strength: float = Field(default=5.0, ge=0, le=10_000)
    lookback_days: int = Field(default=180, ge=1, le=3 * 366)
    defer_below: float | None = Field(default=None, gt=0, le=1)
    hours: tuple[int, int] = (8, 21)

    @model_validator(mode="after")
    def _hours(self) -> BestTimeConfig:
        first, last = self.hours
        if not 0 <= first < last <= 24:
            raise ValueError(f"hours [{first}, {last}] must be local hours with 0 <= first < last <= 24")
        return self

    def freeze(self) -> BestTime:
        return BestTime(
            self.segment_strength, self.account_strength, self.lookback_days, self.defer_below, self.hours
        )


class StrategyConfig(Strict):
    name: str = Field(min_length=1)
    promise_grace_days: int = Field(default=2, ge=0, le=60)
    already_paid_hold_days: int = Field(default=7, ge=0, le=60)
    max_attempts_per_day: int = Field(default=2, ge=1, le=20)
    retry_after: RetrySpacing = RetrySpacing()
    hardship_scripts: dict[str, str]
    stages: list[StageConfig] = Field(min_length=1)
    ladder: LadderConfig | None = None
    best_time: BestTimeConfig | None = None  # absent: targets in account order

    @field_validator("hardship_scripts")
    @classmethod
    def _scripts(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_scripts(value)

    @model_validator(mode="after")
    def _no_overlaps(self) -> StrategyConfig:
        # Entries for the same segments must not overlap, or which one applies would hang on order.
        for i, a in enumerate(self.stages):
            for j in range(i + 1, len(self.stages)):
                b = self.stages[j]
                same_segments = (a.risk_segments is None and b.risk_segments is None) or (
                    a.risk_segments is not None
                    and b.risk_segments is not None
                    and set(a.risk_segments) & set(b.risk_segments)
                )
                a_max = a.dpd_max if a.dpd_max is not None else 10**9
                b_max = b.dpd_max if b.dpd_max is not None else 10**9
                if same_segments and a.dpd_min <= b_max and b.dpd_min <= a_max:
                    raise ValueError(
                        f"stages[{i}] ({a.stage.value}) and stages[{j}] ({b.stage.value}) "
                        "cover overlapping dpd for the same risk segments"
                    )
        return self

    def freeze(self, source: str) -> Strategy:
        stages = tuple(
            Stage(
                name=s.stage,
                dpd_min=s.dpd_min,
                dpd_max=s.dpd_max,
                risk_segments=frozenset(s.risk_segments) if s.risk_segments is not None else None,
                channel=s.channel,
                scripts=dict(s.scripts),
                max_attempts=s.max_attempts,
                retry_after=s.retry_after.merged_over(self.retry_after),
            )
            for s in self.stages
        )
        return Strategy(
            name=self.name,
            stages=stages,
            promise_grace_days=self.promise_grace_days,
            already_paid_hold_days=self.already_paid_hold_days,
            max_attempts_per_day=self.max_attempts_per_day,
            hardship_scripts=dict(self.hardship_scripts),
            source=source,
            ladder=self.ladder.freeze() if self.ladder is not None else None,
            best_time=self.best_time.freeze() if self.best_time is not None else None,
        )


FIX = "see strategies/default.yaml for the fields"


def parse_strategy(text: str, source: str) -> Strategy:
    return validate(StrategyConfig, parse_yaml(text, source), FIX).freeze(source)


def load_strategy(path: Path) -> Strategy:
    return validate(StrategyConfig, read_yaml(path, "strategy"), FIX).freeze(str(path))


def coverage_gaps(
    strategy: Strategy, segment: str | None, lo: int = -30, hi: int = 365
) -> list[tuple[int, int]]:
    """dpd ranges within [lo, hi] that no stage covers for ``segment`` (for ``strategy check``)."""
    gaps: list[tuple[int, int]] = []
    start: int | None = None
    for dpd in range(lo, hi + 1):
        covered = any(s.covers(dpd) and s.applies_to(segment) for s in strategy.stages)
        if not covered and start is None:
            start = dpd
        elif covered and start is not None:
            gaps.append((start, dpd - 1))
            start = None
    if start is not None:
        gaps.append((start, hi))
    return gaps
