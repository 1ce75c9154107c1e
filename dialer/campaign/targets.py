"""Which accounts a campaign run dials, with which script, on which endpoint.

The strategy (``dialer.strategy``) decides per account: stop, wait (``not_before``
later than now), hand to an agent, or call with a stage's script.  Only accounts
it says to call now become targets; the guard still decides each dial at dial time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.analytics.experiments_store import script_swaps
from dialer.store.models import Account, Creditor, Phone, PhoneStatus, PhoneStatusRow
from dialer.store.repo import creditor_problem, strategy_inputs
from dialer.strategy.config import load_strategy
from dialer.strategy.contact_time import dial_order, hold_for_later
from dialer.strategy.model import ActionKind, ContactChannel, Strategy
from dialer.strategy.policy import next_action
from foundation import paths
from foundation.contract import DialTarget
from foundation.errors import InputError

# account_id, number → what Asterisk dials (None: this account is not reachable this way)
EndpointFor = Callable[[str, str], str | None]


# TECH/RESOURCE[@TRUNK]: the technology a channel driver's name; the resource carries the number;
# the trunk (PJSIP's endpoint, a Local channel's context) is the template's own literal word.  No
# ``&`` (Dial's "ring these devices too"), no ``,`` or second ``@``: a template cannot send a call
# anywhere but the one route it names.
ENDPOINT_TEMPLATE = re.compile(
    r"^(?P<tech>[A-Za-z][A-Za-z0-9_]{0,31})/(?P<resource>[A-Za-z0-9_.+{}-]{1,80})"
    r"(?:@(?P<trunk>[A-Za-z0-9_.-]{1,80}))?$"
)


@dataclass(frozen=True, slots=True)
class EndpointShape:
    """A checked endpoint template: its technology and the trunk it routes through (if any)."""

    template: str
    tech: str
    trunk: str | None


def parse_endpoint_template(template: str) -> EndpointShape:
    """``PJSIP/{number}@carrier`` checked for its shape; ``InputError`` says what is wrong."""
    example = "e.g. --endpoint 'PJSIP/{number}@carrier'"
    if "{number}" not in template:
        raise InputError(f"endpoint template {template!r} has no {{number}}", example)
    m = ENDPOINT_TEMPLATE.match(template)
    if m is None:
        if "/" not in template.split("{number}", 1)[0]:
            raise InputError(
                f"endpoint template {template!r} names no channel technology before the number",
                f"start it with the technology Asterisk dials through, {example}",
            )
        raise InputError(
            f"endpoint template {template!r} is not TECH/RESOURCE[@TRUNK] (letters, digits, _ . + - only; "
            "one @ at most, after the number)",
            example,
        )
    rest = m["resource"].replace("{number}", "", 1)
    if "{" in rest or "}" in rest:
        raise InputError(f"endpoint template {template!r} must hold {{number}} exactly once", example)
    return EndpointShape(template, m["tech"], m["trunk"])


def endpoint_template(template: str) -> EndpointFor:
    """``PJSIP/{number}@carrier`` → an endpoint per number (``{number}`` is E.164 without the +).

    The number is digits only (an E.164 number is), so nothing dialled can carry a route of its
    own into the dial string."""
    parse_endpoint_template(template)

    def endpoint(_account_id: str, number: str) -> str | None:
        digits = number.lstrip("+")
        if not digits.isdigit():
            return None  # not a number this template may dial; the account is skipped
        return template.replace("{number}", digits)

    return endpoint


def endpoint_map(endpoints: Mapping[str, str]) -> EndpointFor:
    """A fixed account → endpoint map (the sandbox personas)."""

    def endpoint(account_id: str, _number: str) -> str | None:
        return endpoints.get(account_id)

    return endpoint


@dataclass
class Plan:
    targets: list[DialTarget] = field(default_factory=list)
    # Why accounts were not dialled this run: one line each (a creditor without a callback number
    # names the creditor and the fix), counted.
    skipped: Counter[str] = field(default_factory=Counter)


def plan_targets(
    engine: Engine,
    strategy: Strategy,
    endpoint_for: EndpointFor,
    now: dt.datetime,
    *,
    account_ids: list[str] | None = None,
    use_schedule: bool = True,
    with_agents: bool = False,
    scripts_dir: Path | None = None,
) -> Plan:
    """Targets for this run, in account order; ``use_schedule=False`` ignores ``not_before``
    (retry spacing), leaving the timing of redials to the guard's frequency rules alone.
    ``with_agents``: human agents take the calls, so accounts the strategy routes to an agent
    are dialled too.  A creditor's preferred script for the stage replaces the strategy's where
    ``scripts_dir`` (default: the shipped scripts) has it in the account's language.  With the
    strategy's ``best_time``, targets are ordered by the chance of an answer at the debtor's
    local hour now (``dialer.strategy.contact_time``), and may be held for a better hour later."""
    plan = Plan()
    where: dict[str, tuple[str | None, str | None]] = {}  # account → (risk segment, time zone)
    scripts_dir = scripts_dir or paths.scripts_dir()
    with Session(engine) as s:
        # Champion/challenger: a running experiment's challenger accounts, and promoted scripts.
        swaps = script_swaps(s)
        query = select(Account.account_id).order_by(Account.account_id)
        if account_ids is not None:
            query = query.where(Account.account_id.in_(account_ids))
        ids = list(s.scalars(query))
        challengers: dict[str, Strategy] = {}  # a strategy experiment's challenger files, read once
        for account_id in ids:
            state, history = strategy_inputs(s, account_id, now)
            holder = s.get(Account, account_id)  # read by strategy_inputs: from the session
            creditor_id = holder.creditor_id if holder is not None else None
            used = strategy
            challenger_file = swaps.strategy_file_for(account_id, creditor_id, strategy.name)
            if challenger_file is not None:
                if challenger_file not in challengers:
                    challengers[challenger_file] = load_strategy(Path(challenger_file))
                used = challengers[challenger_file]
            action = next_action(used, state, history, now)
            if action.kind is ActionKind.STOP:
                plan.skipped["strategy: stop"] += 1
                continue
            if action.channel is ContactChannel.AGENT and not with_agents:
                plan.skipped["strategy: needs an agent"] += 1
                continue
            if use_schedule and action.not_before is not None and action.not_before > now:
                plan.skipped["strategy: not yet due"] += 1
                continue
            phones = s.scalars(
                select(Phone)
                .where(Phone.account_id == account_id, Phone.contact_type == "debtor")
                .order_by(Phone.position)
            ).all()
            if not phones:
                plan.skipped["no debtor phone"] += 1
                continue
            blocked = set(
                s.scalars(
                    select(PhoneStatusRow.number).where(
                        PhoneStatusRow.account_id == account_id,
                        PhoneStatusRow.status != PhoneStatus.ACTIVE.value,
                    )
                )
            )
            # The first number still callable; with none, the first anyway, so the guard's denial
            # (phone_blocked) is in the ledger for whoever asks why the account was not called.
            phone = next((p for p in phones if p.number not in blocked), phones[0])
            endpoint = endpoint_for(account_id, phone.number)
            if endpoint is None:
                plan.skipped["no endpoint"] += 1
                continue
            # After the checks above, so an account no run could reach is still counted as such.
            account = s.get(Account, account_id)
            assert account is not None  # strategy_inputs read it in this session
            problem = creditor_problem(account)
            if problem is not None:
                plan.skipped[problem] += 1
                continue
            assert action.script is not None and action.stage is not None
            where[account_id] = (account.risk_segment, account.timezone)
            plan.targets.append(
                DialTarget(
                    account_id=account_id,
                    number=phone.number,
                    endpoint=endpoint,
                    language=state.language,
                    script=swaps.script_for(
                        account_id,
                        account.creditor_id,
                        _script(
                            account.creditor,
                            action.stage.value,
                            state.language,
                            action.script,
                            used,
                            scripts_dir,
                        ),
                    ),
                    stage=action.stage.value,
                    caller_id=account.creditor.caller_id if account.creditor else None,
                )
            )
    if strategy.best_time is not None and plan.targets:
        _by_best_time(engine, strategy, plan, where, now)
    return plan


def _by_best_time(
    engine: Engine,
    strategy: Strategy,
    plan: Plan,
    where: dict[str, tuple[str | None, str | None]],
    now: dt.datetime,
) -> None:
    """Order ``plan``'s targets by each debtor's chance of answering at their local hour now."""
    from dialer.analytics.contact_store import contact_times

    config = strategy.best_time
    assert config is not None
    times = contact_times(engine, config, [t.account_id for t in plan.targets], now)
    chances: dict[str, float] = {}
    held: set[str] = set()
    for t in plan.targets:
        segment, zone = where[t.account_id]
        curve = times.curve(t.account_id, segment)
        hour = now.astimezone(_zone(zone)).hour
        chances[t.account_id] = curve.at(hour)
        if hold_for_later(curve, hour, config):
            held.add(t.account_id)
    by_id = {t.account_id: t for t in plan.targets}
    plan.targets = [by_id[a] for a in dial_order(chances, by_id) if a not in held]
    if held:
        plan.skipped["best time: a better hour later today"] += len(held)


def _zone(name: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(name) if name else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _script(
    creditor: Creditor | None, stage: str, language: str, chosen: str, strategy: Strategy, scripts_dir: Path
) -> str:
    """The creditor's preferred script for ``stage``, else the strategy's ``chosen`` one.

    A hardship route (the installment offer) stays: it answers what the debtor said, not the
    stage.  A preferred script with no file in the account's language is passed over rather
    than dialled: the call would fail once answered.
    """
    preferred = creditor.scripts.get(stage) if creditor is not None and creditor.scripts else None
    if not preferred or chosen in strategy.hardship_scripts.values():
        return chosen
    if not (scripts_dir / f"{preferred}.{language}.yaml").is_file():
        return chosen
    # Named as the strategy names scripts (early_collection_en): the answer path reads both.
    return f"{preferred}_{language}"
