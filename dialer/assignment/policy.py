"""Who should work each account: eligibility by skills, then the rules' method. Pure: no I/O.

For every account, in this order:

1. an account the rules do not assign (paid, or carrying an excluded flag) is released;
2. an account already held stays with its collector (stickiness) unless that collector is
   absent or gone (it is redistributed) or an escalation rule fires (the first in the file:
   a broken promise, a new DPD bucket, a new flag, each compared with the facts the
   account was assigned on); a supervisor's manual assignment is exempt from escalations;
3. every account to place goes to a collector with the skills (language, bucket, creditor,
   balance band, licence), room under their capacity and, for an escalation naming a team,
   in that team — chosen by the method: fewest open cases, fewest open cases per unit of
   capacity, or fewest placements in this run (round robin).

Accounts with the same needs share one eligibility computation and one heap of their
collectors, so a run costs O(accounts · log collectors) plus one pass per distinct need.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from dialer.assignment.model import (
    CaseFacts,
    CollectorSpec,
    Escalation,
    Holding,
    Method,
    Move,
    Plan,
    Reason,
    Rules,
    Trigger,
    Unplaced,
)

MAX_PASSES = 4  # placement passes per run (a pass again only when the one before freed room)


def assignable(rules: Rules, case: CaseFacts) -> str | None:
    """Why ``case`` is not assigned to anyone (None: it is assigned)."""
    if case.balance <= 0:
        return "balance is paid"
    excluded = case.flags & rules.exclude_flags
    if excluded:
        return f"flagged {', '.join(sorted(excluded))} (excluded by the rules)"
    return None


def licence_covers(licences: frozenset[str], jurisdiction: str | None) -> bool:
    if jurisdiction is None:
        return False
    country = jurisdiction.split("-", 1)[0]
    return jurisdiction in licences or country in licences


def missing_skills(rules: Rules, collector: CollectorSpec, case: CaseFacts) -> list[str]:
    """What ``collector`` lacks to work ``case`` (empty: nothing)."""
    missing: list[str] = []
    if collector.languages and case.language not in collector.languages:
        missing.append(f"language {case.language}")
    if collector.buckets and (case.bucket is None or case.bucket not in collector.buckets):
        missing.append(f"bucket {case.bucket or 'none'}")
    if collector.creditors and (case.creditor is None or case.creditor not in collector.creditors):
        missing.append(f"creditor {case.creditor or 'none'}")
    if collector.balance_min is not None and case.balance < collector.balance_min:
        missing.append("balance below their band")
    if collector.balance_max is not None and case.balance > collector.balance_max:
        missing.append("balance above their band")
    if (collector.licences or rules.require_licence) and not licence_covers(
        collector.licences, case.jurisdiction
    ):
        missing.append(f"licence for {case.jurisdiction or 'an unknown jurisdiction'}")
    return missing


def skilled(rules: Rules, collector: CollectorSpec, case: CaseFacts) -> bool:
    return not missing_skills(rules, collector, case)


def fired(rules: Rules, holding: Holding, case: CaseFacts, holder: CollectorSpec) -> Escalation | None:
    """The first escalation rule that moves ``case`` away from ``holder`` now, if any."""
    if holding.manual:
        return None
    for rule in rules.escalations:
        if rule.trigger is Trigger.BROKEN_PROMISE:
            hit = case.broken_promises > holding.broken_promises
        elif rule.trigger is Trigger.BUCKET_CHANGE:
            hit = case.bucket != holding.bucket
        else:
            hit = rule.flag is not None and rule.flag in case.flags and rule.flag not in holding.flags
        if not hit:
            continue
        if rule.only_if_unskilled and skilled(rules, holder, case):
            continue
        if rule.to_team is not None and holder.team == rule.to_team:
            continue  # already where the rule sends it
        return rule
    return None


def _describe(rule: Escalation, holding: Holding, case: CaseFacts) -> str:
    if rule.trigger is Trigger.BROKEN_PROMISE:
        what = f"{case.broken_promises - holding.broken_promises} promise(s) broken since assignment"
    elif rule.trigger is Trigger.BUCKET_CHANGE:
        what = f"bucket {holding.bucket or 'none'} -> {case.bucket or 'none'}"
    else:
        what = f"flag {rule.flag} set since assignment"
    return f"escalation {rule.name}: {what}" + (f", to team {rule.to_team}" if rule.to_team else "")


@dataclass(frozen=True, slots=True)
class _Need:
    """What the accounts of one group ask of a collector (the group key)."""

    language: str
    bucket: str | None
    creditor: str | None
    band: int  # index of the balance among the collectors' band edges
    jurisdiction: str | None
    team: str | None  # an escalation's team, or None
    exclude: str | None  # the collector an escalation moves it away from


@dataclass(slots=True)
class _Pending:
    case: CaseFacts
    holder: str | None  # who holds it now (None: nobody)
    reason: str
    why: str
    counted: bool = False  # the holder is available and the account counts in their load until it moves


def plan(
    rules: Rules,
    collectors: Sequence[CollectorSpec],
    cases: Iterable[CaseFacts],
    holdings: Mapping[str, Holding],
) -> Plan:
    """The moves that bring the assignment in line with ``rules`` today."""
    by_id = {c.collector_id: c for c in collectors}
    order = {cid: i for i, cid in enumerate(sorted(by_id))}
    loads = dict.fromkeys(by_id, 0)
    result = Plan()
    pending: list[tuple[_Pending, str | None, str | None]] = []  # (item, team, exclude)

    for case in cases:
        holding = holdings.get(case.account_id)
        held_by = holding.collector_id if holding is not None else None
        closed = assignable(rules, case)
        if closed is not None:
            if held_by is not None:
                result.moves.append(
                    Move(case.account_id, held_by, None, Reason.CLOSED, f"released: {closed}")
                )
            continue
        if holding is None:
            pending.append((_Pending(case, None, Reason.NEW, "new account"), None, None))
            continue
        holder = by_id.get(holding.collector_id)
        if holder is None:
            why = f"collector {holding.collector_id} no longer exists"
            pending.append((_Pending(case, holding.collector_id, Reason.REMOVED, why), None, None))
            continue
        if not holder.available:
            why = f"collector {holder.collector_id} is absent"
            pending.append((_Pending(case, holder.collector_id, Reason.ABSENT, why), None, None))
            continue
        rule = fired(rules, holding, case, holder)
        if rule is None:
            loads[holder.collector_id] += 1
            result.kept += 1
            continue
        item = _Pending(case, holder.collector_id, rule.name, _describe(rule, holding, case), counted=True)
        pending.append((item, rule.to_team, holder.collector_id))
    for item, *_ in pending:
        if item.counted and item.holder is not None:
            loads[item.holder] += 1  # it still holds the account until it moves
    turns = dict.fromkeys(by_id, 0)
    remaining = pending
    leftovers: list[tuple[_Pending, str | None, str | None, str]] = []
    for _ in range(MAX_PASSES):
        # An escalation placed late in a pass frees room its collector's accounts could not
        # find earlier in the same pass: pass again over what is left while room was freed,
        # so the next run finds nothing more to move.
        leftovers, freed = _place(rules, by_id, order, loads, remaining, result, turns)
        if not leftovers or not freed:
            break
        remaining = [(item, team, exclude) for item, team, exclude, _ in leftovers]
    result.unplaced.extend(
        Unplaced(item.case.account_id, item.holder, f"{item.why}; {why}") for item, _, _, why in leftovers
    )
    result.loads = loads
    return result


def _band_edges(collectors: Iterable[CollectorSpec]) -> list[Decimal]:
    edges: set[Decimal] = set()
    for c in collectors:
        if c.balance_min is not None:
            edges.add(c.balance_min)
        if c.balance_max is not None:
            edges.add(c.balance_max)
    return sorted(edges)


def _band(edges: Sequence[Decimal], balance: Decimal) -> int:
    """Balances with one band index compare alike against every collector's band edge."""
    below = bisect.bisect_left(edges, balance)
    return 2 * below + (1 if below < len(edges) and edges[below] == balance else 0)


def _place(
    rules: Rules,
    by_id: Mapping[str, CollectorSpec],
    order: Mapping[str, int],
    loads: dict[str, int],
    pending: list[tuple[_Pending, str | None, str | None]],
    result: Plan,
    turns: dict[str, int],
) -> tuple[list[tuple[_Pending, str | None, str | None, str]], bool]:
    """Place what it can; returns what is left (with why) and whether a holder's room was freed."""
    leftovers: list[tuple[_Pending, str | None, str | None, str]] = []
    freed = False
    edges = _band_edges(by_id.values())
    available = [c for c in by_id.values() if c.available]
    groups: dict[_Need, list[_Pending]] = {}
    # Escalations place first: an account that must move competes for room before new ones.
    for item, team, exclude in sorted(pending, key=lambda p: (not p[0].counted, p[0].case.account_id)):
        case = item.case
        need = _Need(
            case.language,
            case.bucket,
            case.creditor,
            _band(edges, case.balance),
            case.jurisdiction,
            team,
            exclude,
        )
        groups.setdefault(need, []).append(item)

    def key(cid: str) -> tuple[float, int]:
        if rules.method is Method.LEAST_LOADED:
            return (float(loads[cid]), order[cid])
        if rules.method is Method.WEIGHTED:
            return ((loads[cid] + 1) / by_id[cid].capacity, order[cid])
        return (float(turns[cid]), order[cid])

    for need, items in groups.items():
        sample = items[0].case
        eligible = [
            c.collector_id
            for c in available
            if c.collector_id != need.exclude
            and (need.team is None or c.team == need.team)
            and skilled(rules, c, sample)
        ]
        if not eligible:
            why = "no available collector has the skills" + (f" in team {need.team}" if need.team else "")
            leftovers.extend((i, need.team, need.exclude, why) for i in items)
            continue
        heap = [(*key(cid), cid) for cid in eligible if loads[cid] < by_id[cid].capacity]
        heapq.heapify(heap)
        for item in items:
            if not heap:
                leftovers.append((item, need.team, need.exclude, "every eligible collector is at capacity"))
                continue
            *_, cid = heapq.heappop(heap)
            if item.counted and item.holder is not None:
                loads[item.holder] -= 1
                freed = True
            loads[cid] += 1
            turns[cid] += 1
            result.moves.append(Move(item.case.account_id, item.holder, cid, item.reason, item.why))
            if loads[cid] < by_id[cid].capacity:
                heapq.heappush(heap, (*key(cid), cid))
    return leftovers, freed


def spread(rules: Rules, collectors: Sequence[CollectorSpec], loads: Mapping[str, int]) -> float:
    """How far the available collectors' loads are from even, in cases (compare with ``tolerance``).

    Least loaded and round robin: the largest load minus the smallest.  Weighted by capacity:
    the largest distance of a load from its capacity's share of the total.
    """
    pool = [c for c in collectors if c.available]
    if not pool:
        return 0.0
    if rules.method is Method.WEIGHTED:
        total = sum(loads.get(c.collector_id, 0) for c in pool)
        room = sum(c.capacity for c in pool)
        return max(abs(loads.get(c.collector_id, 0) - total * c.capacity / room) for c in pool)
    values = [loads.get(c.collector_id, 0) for c in pool]
    return float(max(values) - min(values))


@dataclass(frozen=True, slots=True)
class Urgency:
    """What the worklist's priority reads about one account."""

    account_id: str
    callback_due: bool  # the debtor asked to be called back and that time has come
    broken_promises: int
    balance: Decimal
    risk: str | None
    dpd: int | None


def worklist_order(rules: Rules, items: Iterable[Urgency]) -> list[Urgency]:
    """``items`` most urgent first, by the rules' ``worklist.priority`` (then by account id)."""
    risk_rank = {name: i for i, name in enumerate(rules.risk_order)}

    def key(u: Urgency) -> tuple[object, ...]:
        parts: list[object] = []
        for what in rules.priority:
            if what == "callback_due":
                parts.append(not u.callback_due)
            elif what == "broken_promise":
                parts.append(-u.broken_promises)
            elif what == "balance":
                parts.append(-u.balance)
            elif what == "risk":
                parts.append(risk_rank.get(u.risk or "", len(risk_rank)))
            elif what == "dpd":
                parts.append(-(u.dpd if u.dpd is not None else -(10**6)))
        parts.append(u.account_id)
        return tuple(parts)

    return sorted(items, key=key)
