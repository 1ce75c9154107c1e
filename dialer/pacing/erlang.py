"""Erlang bounds for a static (non-adaptive) dialer, the classical yardstick for pacing.

A dialer that places calls at a fixed rate, with answered calls arriving as a
Poisson stream to ``lines`` agents, is an Erlang loss system when an answered
call that finds no free agent is abandoned (Erlang B) and a delay system when it
waits (Erlang C, abandoned once the wait exceeds the grace period).  Solving for
the largest offered load that keeps abandonment at the target gives the agent
occupancy such a dialer can reach; adaptive pacing should beat it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from foundation.errors import InputError

_BISECT_STEPS = 100


def erlang_b(lines: int, offered_erlangs: float) -> float:
    """Blocking probability of ``lines`` servers offered ``offered_erlangs`` (stable recursion)."""
    _check(lines, offered_erlangs)
    blocking = 1.0
    for k in range(1, lines + 1):
        blocking = offered_erlangs * blocking / (k + offered_erlangs * blocking)
    return blocking


def erlang_c(lines: int, offered_erlangs: float) -> float:
    """Probability that an arriving call waits (1.0 when the load reaches the line count)."""
    _check(lines, offered_erlangs)
    if offered_erlangs >= lines:
        return 1.0
    b = erlang_b(lines, offered_erlangs)
    return lines * b / (lines - offered_erlangs * (1.0 - b))


def wait_exceeds(lines: int, offered_erlangs: float, handle_s: float, wait_s: float) -> float:
    """Erlang C: P(wait > wait_s) with exponential handle times of mean ``handle_s``."""
    if handle_s <= 0 or wait_s < 0:
        raise InputError(f"handle {handle_s} s / wait {wait_s} s", "use a handle time > 0 and a wait >= 0")
    if offered_erlangs >= lines:
        return 1.0
    return erlang_c(lines, offered_erlangs) * math.exp(-(lines - offered_erlangs) * wait_s / handle_s)


def load_for_blocking(lines: int, target: float) -> float:
    """Largest offered load whose Erlang-B blocking is at most ``target``."""
    _check_target(target)
    return _bisect(lambda a: erlang_b(lines, a) <= target, 0.0, lines * 10.0 + 10.0)


def load_for_wait(lines: int, target: float, handle_s: float, wait_s: float) -> float:
    """Largest offered load whose Erlang-C P(wait > wait_s) is at most ``target``."""
    _check_target(target)
    return _bisect(lambda a: wait_exceeds(lines, a, handle_s, wait_s) <= target, 0.0, float(lines))


@dataclass(frozen=True, slots=True)
class ErlangBound:
    model: str
    lines: int
    target: float
    offered_erlangs: float
    carried_erlangs: float

    @property
    def occupancy(self) -> float:
        return self.carried_erlangs / self.lines


def erlang_b_bound(lines: int, target: float) -> ErlangBound:
    """Static dialer as a loss system: abandoned = blocked, occupancy = carried load / lines."""
    load = load_for_blocking(lines, target)
    return ErlangBound("erlang_b", lines, target, load, load * (1.0 - erlang_b(lines, load)))


def erlang_c_bound(lines: int, target: float, handle_s: float, wait_s: float) -> ErlangBound:
    """Static dialer as a delay system: abandoned = waited past ``wait_s``."""
    load = load_for_wait(lines, target, handle_s, wait_s)
    abandoned = wait_exceeds(lines, load, handle_s, wait_s)
    return ErlangBound("erlang_c", lines, target, load, load * (1.0 - abandoned))


def _bisect(ok: Callable[[float], bool], low: float, high: float) -> float:
    for _ in range(_BISECT_STEPS):
        mid = (low + high) / 2
        if ok(mid):
            low = mid
        else:
            high = mid
    return low


def _check(lines: int, offered_erlangs: float) -> None:
    if lines < 1 or offered_erlangs < 0:
        raise InputError(
            f"lines={lines}, load={offered_erlangs}", "use at least 1 line and a load >= 0 Erlangs"
        )


def _check_target(target: float) -> None:
    if not 0.0 < target < 1.0:
        raise InputError(
            f"abandon target {target} out of range", "give a fraction between 0 and 1, e.g. 0.03"
        )
