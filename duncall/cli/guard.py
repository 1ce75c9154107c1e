"""`duncall guard` subcommands: explain decisions for auditors, check rule files, rebuild counters.

``duncall guard explain`` reads JSON Lines on stdin, one dial request per line, and
prints one JSON line per request, in order: ``{"allowed": …, "reasons": […]}``.
A malformed line prints ``{"line": N, "error": "line N: …"}`` in its place, the
same message goes to stderr, the remaining lines are still explained, and the
exit code is 2 at the end.  A blank line prints ``{"line": N, "empty": true}``, so
output line N always answers input line N.  A rule the request lacks the facts for is named
in ``"not_evaluated"`` (no ``voice``: the consent rule), never skipped silently.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from dialer.policy import DEFAULT_RULES, DialRequest, PastAttempt, Rules, Voice, evaluate
from dialer.policy.config import load_preset, load_rules, preset_names
from dialer.policy.consent import consent_in_force, local_today, parse_scope
from dialer.policy.zones import parse_number, zone
from duncall.cli.tty import stdin_hint
from foundation.contract import AccountFlag
from foundation.errors import InputError

EXIT_MALFORMED = 2
_FLAGS = sorted(flag.value for flag in AccountFlag)


def _instant(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time such as 2026-03-08T13:30:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset; end it with Z or +hh:mm")
    return parsed


def _phone(value: str) -> str:
    if not value.startswith("+") or parse_number(value) is None:
        raise ValueError(f"{value!r} is not an E.164 number such as +12125550123")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class AttemptLine(_Strict):
    at: str
    phone: str
    conversation: bool = False
    connected: bool = False
    abandoned: bool = False

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        _instant(value)
        return value

    @field_validator("phone")
    @classmethod
    def _phone_ok(cls, value: str) -> str:
        return _phone(value)


class RequestLine(_Strict):
    phone: str
    timezone: str | None = None
    at: str
    flags: list[str] = []
    attempts: list[AttemptLine] = []
    voice: Literal["bot", "human"] | None = None
    consent: bool | None = None
    consent_date: str | None = None  # YYYY-MM-DD: consent counts from this local day on
    consent_scope: str | list[str] | None = None  # voice, sms, or both ("voice+sms")
    suppressed: bool = False  # the number is on a suppression list (``duncall dnc check`` says why)

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        _instant(value)
        return value

    @field_validator("phone")
    @classmethod
    def _phone_ok(cls, value: str) -> str:
        return _phone(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and zone(value) is None:
            raise ValueError(f"{value!r} is not an IANA time zone such as America/New_York (or use null)")
        return value

    @field_validator("flags")
    @classmethod
    def _flags(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in _FLAGS]
        if unknown:
            raise ValueError(f"unknown flag {', '.join(map(repr, unknown))} (use {', '.join(_FLAGS)})")
        return value

    @field_validator("consent_date")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        return value

    @field_validator("consent_scope")
    @classmethod
    def _scope(cls, value: str | list[str] | None) -> str | list[str] | None:
        parse_scope(value)
        return value

    def to_policy(self) -> tuple[DialRequest, list[PastAttempt]]:
        at = _instant(self.at)
        today = local_today(at, self.phone, self.timezone)
        since = dt.date.fromisoformat(self.consent_date) if self.consent_date else None
        consent = consent_in_force(self.consent, since, today, parse_scope(self.consent_scope))
        request = DialRequest(
            phone=self.phone,
            at=at,
            timezone=self.timezone,
            flags=frozenset(self.flags),
            voice=Voice(self.voice) if self.voice else None,
            consent=consent,
            suppressed=self.suppressed,
        )
        attempts = [
            PastAttempt(_instant(a.at), a.phone, a.conversation, a.connected, a.abandoned)
            for a in self.attempts
        ]
        return request, attempts


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def explain_line(text: str, rules: Rules) -> dict[str, Any]:
    """The decision for one JSON request line; raises ValueError saying what is wrong with it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("a request must be a JSON object")
    try:
        line = RequestLine.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        where = _field(err["loc"])
        raise ValueError(f"{where}: {msg}" if where else msg) from None
    request, attempts = line.to_policy()
    decision = evaluate(request, attempts, rules)
    out: dict[str, Any] = {"allowed": decision.allowed, "reasons": list(decision.reasons)}
    if request.voice is None:
        out["not_evaluated"] = ["consent: no voice field (bot or human) in the request"]
    return out


def _explain(args: argparse.Namespace) -> int:
    rules = _rules(args)
    malformed = 0
    stdin_hint(
        "one JSON request per line, e.g. "
        '{"phone": "+12125550123", "at": "2026-12-01T15:00:00Z", "voice": "bot", "consent": true}'
    )
    for number, text in enumerate(sys.stdin, start=1):
        if not text.strip():
            print(json.dumps({"line": number, "empty": True}))
            continue
        try:
            out = explain_line(text, rules)
        except ValueError as exc:
            malformed += 1
            message = f"line {number}: {exc}"
            out = {"line": number, "error": message}
            print(f"duncall: error: {message}", file=sys.stderr)
        print(json.dumps(out, ensure_ascii=False))
    if malformed:
        print(f"duncall: error: {malformed} malformed line(s); see their output lines", file=sys.stderr)
        return EXIT_MALFORMED
    return 0


def _rules(args: argparse.Namespace) -> Rules:
    if args.rules and args.preset:
        raise InputError("--rules and --preset both given", "pass one of them")
    if args.rules:
        return load_rules(args.rules)
    if args.preset:
        return load_preset(args.preset)
    return DEFAULT_RULES


def _check(args: argparse.Namespace) -> int:
    rules = _rules(args)
    print(f"{rules.name}: ok")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    import redis

    from dialer.guards import Guard, Ledger
    from foundation import settings

    rules = _rules(args)
    client = redis.Redis.from_url(args.redis or settings.redis_url())
    guard = Guard(client, Ledger.open(args.db), rules, prefix=args.prefix)
    guard.invalidate()
    loaded = guard.rebuild()
    print(f"guard counters rebuilt from the ledger: {loaded} attempt(s) within {rules.frequency.horizon()}")
    return 0


def register(sub: Any) -> None:
    guard = sub.add_parser("guard", help="compliance guards: explain decisions, check rule files")
    guard_sub = guard.add_subparsers(dest="guard_command", metavar="SUBCOMMAND", required=True)

    def rules_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--rules", metavar="FILE", help="guard rules YAML (default: built-in defaults)")
        parser.add_argument("--preset", choices=preset_names(), help="a shipped preset instead of --rules")

    explain = guard_sub.add_parser(
        "explain",
        help="decide dial requests read as JSON Lines on stdin",
        description=(
            'One request per line: {"phone": "+12125550123", "timezone": null, "at": "2026-03-08T13:30:00Z", '
            '"flags": [], "attempts": [{"at": "…Z", "phone": "+1…", "conversation": false}], '
            '"voice": "bot", "consent": true, "suppressed": false}.  Prints {"allowed": …, "reasons": […]} per line; a malformed '
            'line prints {"line": N, "error": "…"} instead and the command exits 2 after the last line.'
        ),
    )
    rules_options(explain)
    explain.set_defaults(func=_explain)

    check = guard_sub.add_parser("check", help="validate a guard rules file")
    rules_options(check)
    check.set_defaults(func=_check)

    rebuild = guard_sub.add_parser(
        "rebuild",
        help="reload the Redis counters from the ledger (dialers wait while it runs)",
        description="Run after restoring Redis from a backup or when an outcome reached the ledger only.",
    )
    rules_options(rebuild)
    rebuild.add_argument("--db", metavar="URL", help="durable store URL (default: the store's)")
    rebuild.add_argument("--redis", metavar="URL", help="Redis URL (default: DUNCALL_REDIS_URL or local)")
    rebuild.add_argument("--prefix", default="duncall:guard:", help="the dialers' Redis key prefix")
    rebuild.set_defaults(func=_rebuild)
