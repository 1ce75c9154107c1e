"""The contract's types as JSON, for the processes that pass them to each other.

A dialer hands an answered call to a bot worker (``duncall.botservice``) as a ``DialTarget`` and
gets a ``ConversationRecord`` back; both cross Redis as the JSON made here.  Dates are ISO
strings, amounts decimal strings (never floats: a promise of 150.10 stays 150.10), enums
their values.  Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from foundation.contract import (
    ConversationRecord,
    DialTarget,
    Disposition,
    InstallmentPlanRecord,
    InstalmentRecord,
    Turn,
    Voice,
)
from foundation.errors import InputError

JSON = dict[str, Any]


def target_json(target: DialTarget) -> JSON:
    out = dataclasses.asdict(target)
    out["flags"] = sorted(target.flags)
    out["voice"] = target.voice.value if target.voice is not None else None
    return out


def target_from_json(data: JSON) -> DialTarget:
    try:
        fields = {f.name for f in dataclasses.fields(DialTarget)}
        values = {k: v for k, v in data.items() if k in fields}
        values["flags"] = frozenset(values.get("flags") or ())
        voice = values.get("voice")
        values["voice"] = Voice(voice) if voice is not None else None
        return DialTarget(**values)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"a dial target on the wire is malformed ({exc})", "dialer and bot must run one version"
        ) from None


def record_json(record: ConversationRecord) -> JSON:
    out: JSON = {}
    for f in dataclasses.fields(ConversationRecord):
        out[f.name] = getattr(record, f.name)
    out["turns"] = [dataclasses.asdict(t) for t in record.turns]
    out["disposition"] = record.disposition.value
    out["callback_at"] = record.callback_at.isoformat() if record.callback_at is not None else None
    plan = record.plan
    out["plan"] = (
        None
        if plan is None
        else {
            "total": str(plan.total),
            "instalments": [{"due": i.due.isoformat(), "amount": str(i.amount)} for i in plan.instalments],
        }
    )
    return out


def record_from_json(data: JSON) -> ConversationRecord:
    try:
        fields = {f.name for f in dataclasses.fields(ConversationRecord)}
        values = {k: v for k, v in data.items() if k in fields}
        values["turns"] = [Turn(**t) for t in values.get("turns") or ()]
        values["disposition"] = Disposition(values.get("disposition", Disposition.INCOMPLETE.value))
        callback = values.get("callback_at")
        values["callback_at"] = dt.date.fromisoformat(callback) if callback else None
        plan = values.get("plan")
        values["plan"] = (
            None
            if plan is None
            else InstallmentPlanRecord(
                total=Decimal(plan["total"]),
                instalments=tuple(
                    InstalmentRecord(dt.date.fromisoformat(i["due"]), Decimal(i["amount"]))
                    for i in plan["instalments"]
                ),
            )
        )
        return ConversationRecord(**values)
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(
            f"a conversation record on the wire is malformed ({type(exc).__name__})",
            "dialer and bot must run one version",
        ) from None
