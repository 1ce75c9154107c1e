"""Load the assignment rules file (``strategies/assignment.yaml``): validated, frozen.

Errors name the file, line and field, as for every configuration file
(``foundation.config``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from dialer.assignment.model import Bucket, Escalation, Method, Rules, Trigger
from foundation.config import Strict, parse_yaml, read_yaml, validate
from foundation.contract import AccountFlag

FIX = "see strategies/assignment.yaml for the fields"
PRIORITIES = ("callback_due", "broken_promise", "balance", "risk", "dpd")
_FLAGS = tuple(flag.value for flag in AccountFlag)


class BucketConfig(Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$", max_length=40)
    dpd_min: int
    dpd_max: int | None = None

    @model_validator(mode="after")
    def _range(self) -> BucketConfig:
        if self.dpd_max is not None and self.dpd_max < self.dpd_min:
            raise ValueError(f"dpd_max {self.dpd_max} is below dpd_min {self.dpd_min}")
        return self


class EscalationConfig(Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$", max_length=40)
    when: Trigger
    flag: str | None = None
    to_team: str | None = None
    only_if_unskilled: bool = False

    @model_validator(mode="after")
    def _flag(self) -> EscalationConfig:
        if self.when is Trigger.FLAG and self.flag is None:
            raise ValueError(f"when: flag needs flag: one of {', '.join(_FLAGS)}")
        if self.when is not Trigger.FLAG and self.flag is not None:
            raise ValueError(f"flag: is only read with when: flag (this rule is when: {self.when.value})")
        if self.flag is not None and self.flag not in _FLAGS:
            raise ValueError(f"unknown flag {self.flag!r} (use {', '.join(_FLAGS)})")
        return self


class WorklistConfig(Strict):
    priority: list[str] = Field(default=list(PRIORITIES[:4]), min_length=1)
    risk_order: list[str] = Field(default_factory=lambda: ["high", "medium", "low"])

    @model_validator(mode="after")
    def _known(self) -> WorklistConfig:
        unknown = [p for p in self.priority if p not in PRIORITIES]
        if unknown:
            raise ValueError(f"unknown priority {', '.join(unknown)} (use {', '.join(PRIORITIES)})")
        if len(set(self.priority)) != len(self.priority):
            raise ValueError("a priority is listed twice")
        return self


class AssignmentConfig(Strict):
    method: Method
    tolerance: int = Field(default=1, ge=1, le=1000)
    buckets: list[BucketConfig] = Field(min_length=1)
    escalations: list[EscalationConfig] = Field(default_factory=list)
    exclude_flags: list[str] = Field(default_factory=list)
    require_licence: bool = False
    worklist: WorklistConfig = WorklistConfig()

    @model_validator(mode="after")
    def _consistent(self) -> AssignmentConfig:
        names = [b.name for b in self.buckets]
        if len(set(names)) != len(names):
            raise ValueError("bucket names must be unique")
        for i, a in enumerate(self.buckets):
            for b in self.buckets[i + 1 :]:
                a_max = a.dpd_max if a.dpd_max is not None else 10**9
                b_max = b.dpd_max if b.dpd_max is not None else 10**9
                if a.dpd_min <= b_max and b.dpd_min <= a_max:
                    raise ValueError(f"buckets {a.name} and {b.name} overlap")
        rules = [e.name for e in self.escalations]
        if len(set(rules)) != len(rules):
            raise ValueError("escalation names must be unique")
        unknown = [f for f in self.exclude_flags if f not in _FLAGS]
        if unknown:
            raise ValueError(f"unknown flag {', '.join(unknown)} in exclude_flags (use {', '.join(_FLAGS)})")
        return self

    def freeze(self, source: str) -> Rules:
        return Rules(
            method=self.method,
            tolerance=self.tolerance,
            buckets=tuple(Bucket(b.name, b.dpd_min, b.dpd_max) for b in self.buckets),
            escalations=tuple(
                Escalation(e.name, e.when, e.flag, e.to_team, e.only_if_unskilled) for e in self.escalations
            ),
            exclude_flags=frozenset(self.exclude_flags),
            require_licence=self.require_licence,
            priority=tuple(self.worklist.priority),
            risk_order=tuple(self.worklist.risk_order),
            source=source,
        )


def parse_rules(text: str, source: str) -> Rules:
    return validate(AssignmentConfig, parse_yaml(text, source), FIX).freeze(source)


def load_rules(path: Path) -> Rules:
    return validate(AssignmentConfig, read_yaml(path, "assignment rules"), FIX).freeze(str(path))
