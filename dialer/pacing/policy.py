"""How many calls to place now: the pure pacing policy the simulator and the live dialer share.

``decide(state)`` reads one campaign's state at one moment and returns how many
new calls to place. It does no I/O and reads no clock: every elapsed time and
every measurement is in the ``CampaignState`` its caller builds.

Modes
-----
* **agentless** (bot campaigns): keep at most K concurrent calls, K = bot
  capacity.  A bot channel is held from dial to hang-up, so the free slots are
  ``free - ringing - waiting`` with ``free`` = idle bot channels.
* **progressive**: one call per free human agent, ``free - ringing - waiting``.
  Every answered call finds its agent, so nothing is ever abandoned.
* **predictive**: dial ahead of agents that are about to free, accepting a
  controlled risk that an answered call finds nobody within the grace period
  (``ABANDON_GRACE_S`` = 2 s, after which the caller plays the recorded
  message and logs the call abandoned).

The predictive model
--------------------
Look ``H`` seconds ahead, ``H`` = the longest measured dial-to-answer delay, on a
grid ``s = 0, 1, ..., H`` s.  Everything is a sum of independent Bernoulli
variables, so its mean and variance add:

* **Supply** of agents able to take a call answered at ``s``: the free agents,
  each agent in a wrap-up of known length that ends by ``s + g`` (``g`` =
  grace; it is certain), plus each busy agent *j* (elapsed handle time ``e_j``)
  with probability ``f_j(s) = P(H <= e_j + s + g | H > e_j)``.  The handle-time
  distribution is learned from the campaign: a Kaplan-Meier estimate whose
  events are the measured handle times and whose censored observations are the
  busy agents' elapsed times (a call still up has lasted at least that long;
  leaving them out would bias the estimate toward the short calls that have
  already ended).  An agent already past every measured handle time falls back
  to a memoryless exponential with the mean handle time.
* **Demand** by ``s``: calls already answered and waiting, plus each ringing call
  *i* (elapsed ``r_i``) answering by ``s`` with probability
  ``q_i(s) = p (F_A(r_i + s) - F_A(r_i)) / (p (1 - F_A(r_i)) + (1 - p)(1 - F_N(r_i)))``
  (``p`` measured answer rate, ``F_A`` the dial-to-answer delay distribution,
  ``F_N`` the dial-to-give-up distribution: a call that has rung a while is
  less likely to answer when no-answers give up sooner), plus each of ``n`` new
  calls with probability ``a(s) = p F_A(s)``.
* **Abandons**: matching answered calls to agents in time order, the calls left
  without an agent by ``s`` are ``sup_{u <= s} (D(u) - S(u))^+``; the model uses
  ``L(n) = max_s E[(D(s) - S(s))^+]``, with the distribution of ``D(s) - S(s)``
  computed exactly on every grid point (the Poisson-binomial of the ringing
  calls, the busy agents and the ``n`` new calls, folded in one Bernoulli at a
  time).  A normal approximation was used before: it is thinnest exactly in
  the far tail the dialer works in (a few tenths of a call expected lost), so
  it misjudged which states were risky; the exact tail measured about +0.5
  occupancy points at equal abandonment in ``bench/pacing.py``.
* **Decision**: the largest ``n`` with ``L(n) <= share * eps * E[answers](n)``, the
  answers being those of the waiting, ringing and new calls over the horizon,
  and never fewer than the progressive count (those calls carry no risk).
  ``share`` (``decision_share``, 0.45) is the part of ``eps`` one decision may
  spend: see below.

The feedback controller
-----------------------
The model is not calibrated in absolute terms: it looks at one decision's
pending calls, ``max_s E[.]`` is below ``E[sup_s .]`` (by ~1.5x in Monte-Carlo
checks), and the pacing loop decides again every second and keeps topping the
pending set up to its budget, re-spending the same risk, so realised
abandonment runs several times the per-decision budget (about 5-6x in
simulation with the exact tail), by a factor ``c`` that depends on the
campaign.  ``decision_share`` takes most of that factor out up front, so the
controller starts near its fixed point instead of overshooting in the first
hour and throttling to progressive.  So ``eps``
follows measured abandonment instead.  For
each regulator's rolling window *w* (US TSR 30 days, UK Ofcom 24 h) the budget
used is ``u_w = (abandoned_w + N0 * u_sp * limit_w) / (limit_w * (answered_w + N0))``:
the measured rate over the limit, shrunk toward the set-point ``u_sp`` by ``N0``
(``prior_answers``) imaginary calls so that the first few answers of a day do
not swing the dialer.  With ``u = max_w u_w``:

    eps = limit * min(1, exp(-gain * (u - u_sp))) * (1 - u ** k)

Because ``u`` is a running ratio of abandons, this is integral action on the
abandon rate: ``eps`` rises while the campaign is under its set-point and falls
steeply past it, settling where ``c * eps(u) = u * limit``, i.e.
``u = u_sp + ln(c * (1 - u ** k) / u) / gain`` — within a few tenths of a
percent of the set-point for ``c`` anywhere from 1 to 20, and always below the
limit because ``eps`` reaches 0 at ``u = 1``: the safety margin tightens as the
budget is used.  When any window has used its whole budget (``u_w >= 1``: the
measured rate at or over the limit, give or take the prior's fraction of a
call), or its measured rate alone is at the limit (``over_budget``: the hard
cap, which the prior never softens), predictive falls back to progressive (no
risk) until answered calls bring the rate back under.  The prior shapes ``eps``
at the start of a campaign: one abandon among the first 20 answers is 5%, and
without it the controller would hold a new campaign near progressive for its
first hour; the hard cap still throttles until that rate is back under the
limit (34 answered calls for one abandon at 3%).

Before enough has been measured (``min_dials`` resolved dials,
``min_answers`` answers, ``min_handles`` completed calls) predictive dials
progressively too.  The I/O layer avoids that cold start by priming its
``DialStatsTracker`` with what the campaign expects (yesterday's answer rate,
ring and handle times): the imaginary samples fill the measurement windows
and are diluted, then pushed out, by real ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from dialer.pacing.stats import AbandonWindow, DialStats, FloatArray
from foundation.errors import InputError

ABANDON_GRACE_S = 2.0  # an answered call waits at most this long for an agent, then hears the message
HORIZON_STEP_S = 1.0  # grid of the look-ahead
MAX_NEW_CALLS = 500  # per decision, whatever the model says: a runaway guard, never reached in practice
MIN_ANSWER_RATE = 0.02  # below this the answer-rate estimate is too thin to dial ahead on


class PacingMode(StrEnum):
    AGENTLESS = "agentless"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


@dataclass(frozen=True, slots=True)
class PacingConfig:
    abandon_grace_s: float = ABANDON_GRACE_S
    horizon_step_s: float = HORIZON_STEP_S
    setpoint: float = 0.9  # u_sp: aim at 90% of the abandon limit (2.7% of 3%)
    gain: float = 15.0  # how steeply eps falls past the set-point
    budget_exponent: float = 4.0  # k: eps reaches 0 as the budget is used up
    prior_answers: int = 300  # N0: imaginary answers at the set-point
    min_dials: int = 50
    min_answers: int = 10
    min_handles: int = 20
    # Share of eps one decision may spend: the loop re-spends a pending set's risk every second, so
    # realised abandonment runs ~5x the per-decision model; starting near that calibration keeps the
    # first hour from overshooting and throttling.
    decision_share: float = 0.45

    def __post_init__(self) -> None:
        if self.abandon_grace_s < 0 or self.horizon_step_s <= 0:
            raise InputError(
                f"grace {self.abandon_grace_s} s / horizon step {self.horizon_step_s} s out of range",
                "use a grace >= 0 s and a step > 0 s",
            )
        if (
            not 0 < self.setpoint < 1
            or self.gain < 0
            or self.budget_exponent <= 0
            or self.prior_answers < 0
            or not 0 < self.decision_share <= 1
        ):
            raise InputError(
                "pacing controller out of range",
                "use 0 < setpoint < 1, gain >= 0, budget_exponent > 0, prior_answers >= 0, "
                "0 < decision_share <= 1",
            )


DEFAULT_CONFIG = PacingConfig()


@dataclass(frozen=True, slots=True, eq=False)
class CampaignState:
    """One campaign at one moment, as the policy sees it.

    ``free_agents`` are idle agents (bot channels in agentless mode);
    ``busy_elapsed_s`` the handle time so far of each busy one (on a call, or in a
    wrap-up whose end is not known);
    ``wrap_up_left_s`` the seconds until each agent in a wrap-up of known length is ready,
    and ``wrap_up_s`` that length (a busy agent is at least that far from ready);
    ``ringing_elapsed_s`` how long each placed, unresolved call has rung;
    ``waiting_answered`` answered calls still inside the grace period with no agent.
    """

    mode: PacingMode
    free_agents: int
    busy_elapsed_s: tuple[float, ...] = ()
    ringing_elapsed_s: tuple[float, ...] = ()
    waiting_answered: int = 0
    stats: DialStats = field(default_factory=DialStats.empty)
    windows: tuple[AbandonWindow, ...] = ()
    line_limit: int | None = None  # trunk lines: ringing + busy + waiting + new never above it
    wrap_up_left_s: tuple[float, ...] = ()  # an agent in wrap-up holds no line
    wrap_up_s: float = 0.0  # the known wrap-up after each call in busy_elapsed_s (0: none or not known)


@dataclass(frozen=True, slots=True)
class PacingDecision:
    calls: int
    reason: str
    target_abandon_rate: float = 0.0  # eps the predictive model was held to (0 for no-risk dialing)
    predicted_abandons: float = 0.0  # model's expected abandons among waiting, ringing and new calls
    predicted_answers: float = 0.0


def decide(state: CampaignState, config: PacingConfig = DEFAULT_CONFIG) -> PacingDecision:
    _validate(state)
    no_risk = _cap(state, state.free_agents - len(state.ringing_elapsed_s) - state.waiting_answered)
    if state.mode is PacingMode.AGENTLESS:
        return PacingDecision(no_risk, "agentless: fill bot capacity")
    if state.mode is PacingMode.PROGRESSIVE:
        return PacingDecision(no_risk, "progressive: one call per free agent")

    over = [w for w in state.windows if over_budget(w, config)]
    if over:
        worst = max(over, key=lambda w: budget_used(w, config))
        return PacingDecision(
            no_risk,
            f"predictive throttled to progressive: {worst.rule.name} abandon rate "
            f"{worst.abandon_rate:.2%} ({worst.abandoned}/{worst.answered}) "
            f"at its {worst.rule.limit:.1%} budget",
        )
    stats = state.stats
    if (
        stats.dials_measured < config.min_dials
        or stats.answer_delay_s.size < config.min_answers
        or stats.handle_s.size < config.min_handles
        or stats.answer_rate < MIN_ANSWER_RATE
    ):
        return PacingDecision(no_risk, "predictive cold start: progressive until enough is measured")

    eps = target_abandon_rate(state.windows, config)
    calls, lost, answers = _predictive_calls(state, eps, config)
    if calls <= no_risk:
        return PacingDecision(no_risk, "predictive: no risk to take beyond progressive", eps, lost, answers)
    return PacingDecision(calls, "predictive: model", eps, lost, answers)


def target_abandon_rate(windows: tuple[AbandonWindow, ...], config: PacingConfig = DEFAULT_CONFIG) -> float:
    """eps: the expected abandon rate the next decision may take, tightening as the budget is used."""
    if not windows:
        raise InputError(
            "predictive pacing without any abandonment window", "pass the campaign's AbandonWindows"
        )
    used = max(budget_used(w, config) for w in windows)
    used = min(used, 1.0)
    limit = min(w.rule.limit for w in windows)
    return (
        limit
        * min(1.0, math.exp(-config.gain * (used - config.setpoint)))
        * (1.0 - float(used**config.budget_exponent))
    )


def over_budget(window: AbandonWindow, config: PacingConfig = DEFAULT_CONFIG) -> bool:
    """Whether the window forbids any risk: its budget is used up, or its measured rate is at the limit.

    The second is the hard cap. The controller's prior keeps a campaign's first few abandons from
    throttling it, but it would also let predictive go on dialing a little when the real rate
    already sits at the limit; a regulator judges the real rate, so at the limit only no-risk calls
    are placed until answered calls bring it back under.
    """
    # The tolerance keeps a rate of exactly the limit at the limit whichever way the product rounds.
    at_limit = window.answered > 0 and window.abandoned >= window.rule.limit * window.answered - 1e-9
    return at_limit or budget_used(window, config) >= 1.0


def budget_used(window: AbandonWindow, config: PacingConfig = DEFAULT_CONFIG) -> float:
    """u_w: the window's abandon rate over its limit, shrunk toward the set-point by N0 imaginary answers."""
    n0 = config.prior_answers
    if window.answered + n0 == 0:
        return config.setpoint
    imagined = n0 * config.setpoint * window.rule.limit
    return (window.abandoned + imagined) / (window.rule.limit * (window.answered + n0))


def _validate(state: CampaignState) -> None:
    if state.free_agents < 0 or state.waiting_answered < 0:
        raise InputError(
            f"free_agents={state.free_agents}, waiting_answered={state.waiting_answered}",
            "counts of agents and calls cannot be negative",
        )
    if (
        (state.busy_elapsed_s and min(state.busy_elapsed_s) < 0)
        or (state.ringing_elapsed_s and min(state.ringing_elapsed_s) < 0)
        or (state.wrap_up_left_s and min(state.wrap_up_left_s) < 0)
        or state.wrap_up_s < 0
    ):
        raise InputError(
            "a negative time in the campaign state",
            "pass seconds since connect / dial, and seconds left of a wrap-up (0 when it is over)",
        )
    if state.line_limit is not None and state.line_limit < 0:
        raise InputError(f"line_limit={state.line_limit}", "use a line limit >= 0 or None")


def _cap(state: CampaignState, calls: int) -> int:
    if state.line_limit is not None:
        in_use = len(state.ringing_elapsed_s) + len(state.busy_elapsed_s) + state.waiting_answered
        calls = min(calls, state.line_limit - in_use)
    return max(0, min(calls, MAX_NEW_CALLS))


def _cdf(sorted_samples: FloatArray, x: FloatArray) -> FloatArray:
    counts = np.searchsorted(sorted_samples, x, side="right")
    return counts.astype(np.float64) / sorted_samples.size


def handle_survival(handle_s: FloatArray, busy_elapsed_s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Kaplan-Meier estimate of P(handle time > t): (event times ascending, survival just after each).

    ``handle_s`` are measured handle times (sorted); ``busy_elapsed_s`` calls still up, censored
    at their elapsed time (at risk at every event up to it, ties included).
    """
    n = handle_s.size
    first = np.flatnonzero(np.r_[True, handle_s[1:] != handle_s[:-1]])  # each distinct time's first index
    times = handle_s[first]
    deaths = np.diff(np.r_[first, n])
    events_left = n - first
    censored = np.sort(busy_elapsed_s)
    censored_left = censored.size - np.searchsorted(censored, times, side="left")
    at_risk = (events_left + censored_left).astype(np.float64)
    return times.astype(np.float64), np.cumprod(1.0 - deaths / at_risk)


def release_probabilities(
    handle_s: FloatArray, busy_elapsed_s: FloatArray, offsets_s: FloatArray, wrap_up_s: float = 0.0
) -> FloatArray:
    """``P(H <= e_j + o | H > e_j + w)`` for each busy agent *j* (rows) and offset *o* (columns).

    ``w`` (``wrap_up_s``) is the known wrap-up every call still up is followed by: such an agent
    is at least ``w`` from ready.  From the Kaplan-Meier estimate over ``handle_s`` with the busy
    agents censored at ``e_j + w``; an agent past every measured handle time falls back to a
    memoryless exponential (after ``w``) with the mean handle time.
    """
    floor = busy_elapsed_s + wrap_up_s  # each handle time is known to exceed this
    times, after = handle_survival(handle_s, floor)

    def survival(x: FloatArray) -> FloatArray:
        index = np.searchsorted(times, x, side="right") - 1
        return np.where(index >= 0, after[np.maximum(index, 0)], 1.0)

    surviving = survival(floor)
    still = survival(np.maximum(busy_elapsed_s[:, None] + offsets_s[None, :], floor[:, None]))
    known = (floor < times[-1]) & (surviving > 0)
    out = np.empty_like(still)
    out[known] = 1.0 - still[known] / surviving[known, None]
    tail = np.maximum(offsets_s - wrap_up_s, 0.0)
    out[~known] = 1.0 - np.exp(-tail / float(handle_s.mean()))[None, :]
    return np.clip(out, 0.0, 1.0)


def _predictive_calls(state: CampaignState, eps: float, config: PacingConfig) -> tuple[int, float, float]:
    stats = state.stats
    p = stats.answer_rate
    delays = stats.answer_delay_s
    horizon_s = float(delays[-1])
    grid = np.arange(0.0, horizon_s + config.horizon_step_s, config.horizon_step_s)

    # Supply: each busy agent j frees by s + grace with probability f_j(s); an agent in a wrap-up
    # of known length surely does once it is over (a 0/1 "probability").
    frees = np.zeros((0, grid.size))
    if state.busy_elapsed_s:
        elapsed = np.asarray(state.busy_elapsed_s, dtype=np.float64)
        frees = release_probabilities(stats.handle_s, elapsed, grid + config.abandon_grace_s, state.wrap_up_s)
    if state.wrap_up_left_s:
        left = np.asarray(state.wrap_up_left_s, dtype=np.float64)
        ends = (left[:, None] <= (grid + config.abandon_grace_s)[None, :]).astype(np.float64)
        frees = np.vstack([frees, ends])

    # Demand: each ringing call i answers by s with probability q_i(s).
    answers = np.zeros((0, grid.size))
    if state.ringing_elapsed_s:
        rung = np.asarray(state.ringing_elapsed_s, dtype=np.float64)
        no_answer = stats.no_answer_s if stats.no_answer_s.size else delays
        answered_before = _cdf(delays, rung)
        answered_by = _cdf(delays, rung[:, None] + grid[None, :])
        still_open = p * (1.0 - answered_before) + (1.0 - p) * (1.0 - _cdf(no_answer, rung))
        answers = np.zeros_like(answered_by)
        live = still_open > 0
        answers[live] = p * (answered_by[live] - answered_before[live, None]) / still_open[live, None]
    eventual = state.waiting_answered + float(answers[:, -1].sum())

    # The exact distribution of D(s) - S(s) on every grid point: a row per s over the integers,
    # built by folding in one Bernoulli at a time. Agents that cannot free and calls that cannot
    # answer within the horizon are left out: they never move the count, and skipping them keeps
    # a simulated day within its wall-time goal.
    frees = frees[(frees > 0).any(axis=1)]
    answers = answers[(answers > 0).any(axis=1)]
    agents = state.free_agents + len(state.busy_elapsed_s) + len(state.wrap_up_left_s)
    most = _cap(state, math.ceil(agents / p) - len(state.ringing_elapsed_s) + 1)
    width = frees.shape[0] + answers.shape[0] + most + 1
    pmf = np.zeros((grid.size, width))
    pmf[:, frees.shape[0]] = 1.0  # column k holds D - S = k + offset
    for f in frees:
        pmf = _fold(pmf, f, -1)
    for q in answers:
        pmf = _fold(pmf, q, +1)
    offset = state.waiting_answered - state.free_agents - frees.shape[0]
    excess = np.maximum(np.arange(width, dtype=np.float64) + offset, 0.0)

    # n new calls, each answering by s with probability a(s); stop at the first n over budget.
    per_call = p * _cdf(delays, grid)
    budget = config.decision_share * eps
    lost = float((pmf @ excess).max())
    if lost > budget * eventual + 1e-12:
        return 0, lost, eventual
    for calls in range(most):
        pmf = _fold(pmf, per_call, +1)
        lost_next = float((pmf @ excess).max())
        if lost_next > budget * (eventual + (calls + 1) * p) + 1e-12:
            return calls, lost, eventual + calls * p
        lost = lost_next
    return most, lost, eventual + most * p


def _fold(pmf: FloatArray, prob: FloatArray, step: int) -> FloatArray:
    """Add one Bernoulli(prob[s]) step of +1 or -1 to the distribution held in each row."""
    shifted = np.zeros_like(pmf)
    if step > 0:
        shifted[:, 1:] = pmf[:, :-1]
    else:
        shifted[:, :-1] = pmf[:, 1:]
    return np.asarray(pmf + (shifted - pmf) * prob[:, None], dtype=np.float64)
