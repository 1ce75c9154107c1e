"""Case assignment, as properties over random collectors, accounts and holdings: every eligible
account held by exactly one collector (or named as not placed, with why), skills and capacity
respected, loads even within the rules' tolerance, escalation moving only what a rule names,
stickiness holding otherwise, and a second run changing nothing."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.assignment.model import (
    Bucket,
    CaseFacts,
    CollectorSpec,
    Escalation,
    Holding,
    Method,
    Plan,
    Reason,
    Rules,
    Trigger,
)
from dialer.assignment.policy import assignable, plan, skilled, spread

pytestmark = pytest.mark.unit

BUCKETS = (Bucket("early", 1, 30), Bucket("mid", 31, 90), Bucket("late", 91, None))
BUCKET_NAMES = ("early", "mid", "late")
TEAMS = ("general", "senior", "disputes")
ESCALATIONS = (
    Escalation("dispute", Trigger.FLAG, flag="dispute", to_team="disputes"),
    Escalation("broken_promise", Trigger.BROKEN_PROMISE, to_team="senior"),
    Escalation("new_bucket", Trigger.BUCKET_CHANGE, only_if_unskilled=True),
)


def _some(rng: random.Random, values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(v for v in values if rng.random() < 0.4)


@st.composite
def world(draw: st.DrawFn) -> tuple[Rules, list[CollectorSpec], list[CaseFacts], dict[str, Holding]]:
    """Sizes and rules drawn by Hypothesis; the rows from a seed it draws.

    Drawing each of a few hundred fields through Hypothesis costs ~0.4 s an example on a
    busy machine; a seeded generator keeps hundreds of examples to seconds, and a failure
    still shrinks to the fewest collectors and accounts.
    """
    rules = Rules(
        method=draw(st.sampled_from(tuple(Method))),
        tolerance=1,
        buckets=BUCKETS,
        escalations=ESCALATIONS,
        exclude_flags=frozenset({"deceased"}),
        require_licence=draw(st.booleans()),
    )
    n_staff = draw(st.integers(1, 10))
    n_accounts = draw(st.integers(0, 60))
    held_share = draw(st.sampled_from((0.0, 0.5, 1.0)))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    staff = []
    for i in range(n_staff):
        low = rng.choice((None, rng.randint(0, 3000)))
        high = rng.choice((None, rng.randint(low or 0, 6000)))
        staff.append(
            CollectorSpec(
                collector_id=f"c{i:02d}",
                team=rng.choice(TEAMS),
                capacity=rng.randint(1, 25),
                available=rng.random() < 0.8,
                languages=_some(rng, ("en", "zh")),
                buckets=_some(rng, BUCKET_NAMES),
                creditors=_some(rng, ("acme", "bolt")),
                licences=_some(rng, ("US-NY", "US-CA", "US")),
                balance_min=Decimal(low) if low is not None else None,
                balance_max=Decimal(high) if high is not None else None,
            )
        )
    accounts = [
        CaseFacts(
            account_id=f"A{i:03d}",
            language=rng.choice(("en", "zh")),
            bucket=rng.choice(BUCKET_NAMES),
            creditor=rng.choice(("acme", "bolt")),
            balance=Decimal(rng.randint(-10, 5000)),
            jurisdiction=rng.choice(("US-NY", "US-CA", "US-TX", None)),
            broken_promises=rng.randint(0, 2),
            flags=_some(rng, ("dispute", "deceased")),
        )
        for i in range(n_accounts)
    ]
    ids = [c.collector_id for c in staff] + ["gone"]
    holdings: dict[str, Holding] = {}
    for case in accounts:
        if rng.random() < held_share:
            holdings[case.account_id] = Holding(
                collector_id=rng.choice(ids),
                bucket=rng.choice(BUCKET_NAMES),
                broken_promises=rng.randint(0, case.broken_promises),
                flags=_some(rng, tuple(sorted(case.flags))),
                manual=rng.random() < 0.2,
            )
    return rules, staff, accounts, holdings


def after(holdings: dict[str, Holding], result: Plan, accounts: list[CaseFacts]) -> dict[str, Holding]:
    """The holdings once the plan's moves are written (as ``dialer.assignment.store.apply`` does)."""
    facts = {c.account_id: c for c in accounts}
    out = dict(holdings)
    for move in result.moves:
        if move.to_collector is None:
            del out[move.account_id]
        else:
            f = facts[move.account_id]
            out[move.account_id] = Holding(move.to_collector, f.bucket, f.broken_promises, f.flags)
    return out


def expected_escalation(
    rules: Rules, holding: Holding, case: CaseFacts, holder: CollectorSpec
) -> Escalation | None:
    """The rules file read literally, independently of the policy's code."""
    if holding.manual:
        return None
    for rule in rules.escalations:
        hit = {
            Trigger.BROKEN_PROMISE: case.broken_promises > holding.broken_promises,
            Trigger.BUCKET_CHANGE: case.bucket != holding.bucket,
            Trigger.FLAG: rule.flag in case.flags and rule.flag not in holding.flags,
        }[rule.trigger]
        if hit and rule.only_if_unskilled and skilled(rules, holder, case):
            hit = False
        if hit and rule.to_team is not None and holder.team == rule.to_team:
            hit = False
        if hit:
            return rule
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world())
def test_each_eligible_account_is_held_once_by_a_skilled_collector_with_room(
    w: tuple[Rules, list[CollectorSpec], list[CaseFacts], dict[str, Holding]],
) -> None:
    rules, staff, accounts, holdings = w
    result = plan(rules, staff, accounts, holdings)
    moved = [m.account_id for m in result.moves]
    assert len(moved) == len(set(moved)), "an account moved twice in one run"
    unplaced = [u.account_id for u in result.unplaced]
    assert len(unplaced) == len(set(unplaced))
    assert not set(unplaced) & {m.account_id for m in result.moves}
    final = after(holdings, result, accounts)
    by_id = {c.collector_id: c for c in staff}
    for case in accounts:
        if assignable(rules, case) is not None:
            assert case.account_id not in final, "a paid or excluded account is still held"
            continue
        held = case.account_id in final
        # exactly once: held by one collector, or reported as not placed (and then held by
        # nobody, or still by the holder an escalation could not move it from)
        assert held or case.account_id in unplaced
    for move in result.moves:
        if move.to_collector is None:
            continue
        target = by_id[move.to_collector]
        case = next(c for c in accounts if c.account_id == move.account_id)
        assert target.available
        assert skilled(rules, target, case), f"{move} breaks the skills"
        if rules.require_licence:
            assert case.jurisdiction is not None
    counts: dict[str, int] = {}
    for h in final.values():
        counts[h.collector_id] = counts.get(h.collector_id, 0) + 1
    assert counts == {cid: n for cid, n in result.loads.items() if n} | {
        cid: n for cid, n in counts.items() if cid not in by_id or not by_id[cid].available
    }
    receivers = {m.to_collector for m in result.moves if m.to_collector is not None}
    for cid in receivers:
        assert counts[cid] <= by_id[cid].capacity, f"{cid} over capacity"
    # A second run on the same facts changes nothing: the assignment is a fixed point.
    again = plan(rules, staff, accounts, final)
    assert again.moves == []


@settings(max_examples=300, deadline=None)
@given(world())
def test_escalation_moves_only_what_the_rules_name_and_stickiness_holds_otherwise(
    w: tuple[Rules, list[CollectorSpec], list[CaseFacts], dict[str, Holding]],
) -> None:
    rules, staff, accounts, holdings = w
    result = plan(rules, staff, accounts, holdings)
    by_id = {c.collector_id: c for c in staff}
    moves = {m.account_id: m for m in result.moves}
    unplaced = {u.account_id: u for u in result.unplaced}
    for case in accounts:
        holding = holdings.get(case.account_id)
        if holding is None:
            if case.account_id in moves:
                assert moves[case.account_id].reason == Reason.NEW
            continue
        move = moves.get(case.account_id)
        if assignable(rules, case) is not None:
            assert move is not None and move.to_collector is None and move.reason == Reason.CLOSED
            continue
        holder = by_id.get(holding.collector_id)
        if holder is None:
            assert case.account_id in moves or case.account_id in unplaced
            if move is not None:
                assert move.reason == Reason.REMOVED
            continue
        if not holder.available:
            if move is not None:
                assert move.reason == Reason.ABSENT
            continue
        rule = expected_escalation(rules, holding, case, holder)
        if rule is None:
            assert move is None, f"{case.account_id} moved ({move}) though no rule names it"
            assert case.account_id not in unplaced
            continue
        if move is None:
            assert case.account_id in unplaced and unplaced[case.account_id].holder == holder.collector_id
            continue
        assert move.reason == rule.name
        assert move.to_collector != holder.collector_id
        if rule.to_team is not None:
            assert by_id[move.to_collector or ""].team == rule.to_team


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(tuple(Method)),
    capacities=st.lists(st.integers(1, 400), min_size=1, max_size=20),
    held=st.lists(st.integers(0, 30), max_size=20),
    new=st.integers(0, 400),
)
def test_loads_stay_within_the_tolerance(
    method: Method, capacities: list[int], held: list[int], new: int
) -> None:
    """One pool (every collector can take every account), room for all: placements keep loads even."""
    capacities = [c + 1000 for c in capacities]  # room for every account: capacity is not what limits
    staff = [CollectorSpec(f"c{i:02d}", None, cap) for i, cap in enumerate(capacities)]
    rules = Rules(method=method, tolerance=1, buckets=BUCKETS)
    accounts: list[CaseFacts] = []
    holdings: dict[str, Holding] = {}
    for i, count in enumerate(held[: len(staff)]):
        for j in range(count):
            account = CaseFacts(f"H{i:02d}-{j:03d}", "en", "early", "acme", Decimal(100))
            accounts.append(account)
            holdings[account.account_id] = Holding(staff[i].collector_id, "early", 0)
    accounts += [CaseFacts(f"N{k:04d}", "en", "early", "acme", Decimal(100)) for k in range(new)]
    before = {s.collector_id: 0 for s in staff}
    for h in holdings.values():
        before[h.collector_id] += 1
    result = plan(rules, staff, accounts, holdings)
    assert len(result.moves) == new and not result.unplaced
    if method is Method.WEIGHTED:
        # Each collector ends within one case of their capacity's share, unless stickiness
        # already put them above it (held accounts never move to even things out).
        total = len(accounts)
        room = sum(capacities)
        for s in staff:
            share = total * s.capacity / room
            assert result.loads[s.collector_id] <= max(math.floor(share) + 1, before[s.collector_id])
        return
    if method is Method.ROUND_ROBIN:
        turns = [result.loads[s.collector_id] - before[s.collector_id] for s in staff]
        assert max(turns) - min(turns) <= rules.tolerance  # each collector's turn comes round
        return
    initial = max(before.values()) - min(before.values())
    assert spread(rules, staff, result.loads) <= max(initial, rules.tolerance)
    if new >= sum(max(before.values()) - b for b in before.values()):
        assert spread(rules, staff, result.loads) <= rules.tolerance


def test_absent_collectors_accounts_are_redistributed_to_skilled_colleagues() -> None:
    rules = Rules(method=Method.LEAST_LOADED, tolerance=1, buckets=BUCKETS)
    staff = [
        CollectorSpec("away", "general", 10, available=False, languages=frozenset({"zh"})),
        CollectorSpec("en-only", "general", 10, languages=frozenset({"en"})),
        CollectorSpec("bilingual", "general", 10, languages=frozenset({"en", "zh"})),
    ]
    accounts = [CaseFacts(f"A{i}", "zh", "early", "acme", Decimal(50)) for i in range(3)]
    holdings = {a.account_id: Holding("away", "early", 0) for a in accounts}
    result = plan(rules, staff, accounts, holdings)
    assert {(m.from_collector, m.to_collector, m.reason) for m in result.moves} == {
        ("away", "bilingual", Reason.ABSENT)
    }
    assert len(result.moves) == 3
