"""The pure pacing policy: what each mode dials from a given campaign state."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.pacing import (
    DEFAULT_CONFIG,
    UK_OFCOM_24H,
    US_TSR_30D,
    AbandonLedger,
    AbandonWindow,
    CampaignState,
    DialStats,
    DialStatsTracker,
    PacingConfig,
    PacingMode,
    decide,
    target_abandon_rate,
)
from dialer.pacing.policy import handle_survival, release_probabilities
from foundation.errors import InputError

pytestmark = pytest.mark.unit


def measured(answer_rate: float = 0.3, seed: int = 0) -> DialStats:
    """Stats as a campaign with 120-180 s handle times and 15-25 s rings would have measured them."""
    rng = np.random.default_rng(seed)
    tracker = DialStatsTracker()
    for _ in range(400):
        tracker.record_dial(answered=bool(rng.random() < answer_rate), ring_s=float(rng.uniform(15, 25)))
    for _ in range(300):
        tracker.record_handle(float(rng.uniform(120, 180)))
    return tracker.snapshot()


def windows(answered: int = 0, abandoned: int = 0) -> tuple[AbandonWindow, ...]:
    return (AbandonWindow(US_TSR_30D, answered, abandoned), AbandonWindow(UK_OFCOM_24H, answered, abandoned))


def predictive(**fields: object) -> CampaignState:
    base: dict[str, object] = {
        "mode": PacingMode.PREDICTIVE,
        "free_agents": 0,
        "stats": measured(),
        "windows": windows(),
    }
    base.update(fields)
    return CampaignState(**base)  # type: ignore[arg-type]


def test_no_free_agents_and_none_about_to_free_places_nothing() -> None:
    # Every agent just connected: with 120-180 s handle times none frees within the ~27 s horizon.
    state = predictive(free_agents=0, busy_elapsed_s=(1.0,) * 20)
    assert decide(state).calls == 0


def test_agents_about_to_free_are_dialled_ahead() -> None:
    # Past 178 s of a 120-180 s handle time, all 20 agents free within seconds: dial ahead for them.
    state = predictive(free_agents=0, busy_elapsed_s=(178.0,) * 20)
    decision = decide(state)
    assert decision.calls > 20
    assert decision.reason == "predictive: model"


@pytest.mark.parametrize(("free", "ringing", "expected"), [(5, 2, 3), (5, 0, 5), (2, 4, 0), (0, 0, 0)])
def test_progressive_is_free_agents_minus_ringing(free: int, ringing: int, expected: int) -> None:
    state = CampaignState(PacingMode.PROGRESSIVE, free, (60.0,) * 3, (5.0,) * ringing)
    assert decide(state).calls == expected


def test_progressive_counts_answered_calls_waiting_for_an_agent() -> None:
    state = CampaignState(PacingMode.PROGRESSIVE, free_agents=4, ringing_elapsed_s=(3.0,), waiting_answered=2)
    assert decide(state).calls == 1


def test_agentless_fills_bot_capacity() -> None:
    # K = 30 bot channels: 10 talking, 5 ringing, 15 idle -> 15 more calls.
    state = CampaignState(
        PacingMode.AGENTLESS, free_agents=15, busy_elapsed_s=(30.0,) * 10, ringing_elapsed_s=(4.0,) * 5
    )
    assert decide(state).calls == 10
    assert decide(CampaignState(PacingMode.AGENTLESS, free_agents=3, ringing_elapsed_s=(1.0,) * 3)).calls == 0


def test_line_limit_caps_every_mode() -> None:
    state = predictive(free_agents=10, busy_elapsed_s=(170.0,) * 10, line_limit=15)
    assert decide(state).calls == 5
    progressive = CampaignState(PacingMode.PROGRESSIVE, free_agents=10, line_limit=4)
    assert decide(progressive).calls == 4


def test_abandonment_over_budget_throttles_to_progressive() -> None:
    state = dict(free_agents=3, busy_elapsed_s=(170.0,) * 17, ringing_elapsed_s=(2.0,))
    free_to_dial = decide(predictive(**state, windows=windows(1000, 10)))
    over = decide(predictive(**state, windows=windows(1000, 31)))
    assert free_to_dial.calls > 2
    assert over.calls == 2  # 3 free agents - 1 ringing, as progressive would
    assert "throttled" in over.reason and "3.10%" in over.reason


@pytest.mark.parametrize(("answered", "abandoned"), [(33, 1), (100, 3), (5000, 150)])
def test_a_measured_rate_at_the_cap_throttles_however_few_calls_stand_behind_it(
    answered: int, abandoned: int
) -> None:
    # The controller's prior would still allow a little risk here (1 abandon in 33 answers counts as
    # ~2.7% with the 300 imaginary answers at the set-point); the regulator counts the real 3.03%.
    state = dict(free_agents=3, busy_elapsed_s=(170.0,) * 17, ringing_elapsed_s=(2.0,))
    decision = decide(predictive(**state, windows=windows(answered, abandoned)))
    assert decision.calls == 2 and "throttled" in decision.reason
    under = decide(predictive(**state, windows=windows(answered + 1, abandoned)))
    assert under.calls > 2 and under.reason == "predictive: model"


def test_uk_window_alone_over_budget_throttles() -> None:
    state = predictive(
        free_agents=3,
        busy_elapsed_s=(170.0,) * 17,
        windows=(AbandonWindow(US_TSR_30D, 50_000, 500), AbandonWindow(UK_OFCOM_24H, 300, 10)),
    )
    decision = decide(state)
    assert decision.calls == 3 and "uk_ofcom_24h" in decision.reason


def test_margin_tightens_as_budget_is_used() -> None:
    rates = [target_abandon_rate(windows(2000, used)) for used in (0, 20, 40, 50, 55, 60)]
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert rates[0] == pytest.approx(0.03, rel=1e-3)
    # 60 of 2000 = 3.0%: the budget is all but gone (the prior's 300 imaginary answers at the set-point
    # hold u just under 1; one more abandon and decide() throttles outright).
    assert rates[-1] < 0.02 * 0.03


def test_cold_start_dials_progressively() -> None:
    state = predictive(free_agents=5, busy_elapsed_s=(170.0,) * 15, stats=DialStats.empty())
    decision = decide(state)
    assert decision.calls == 5 and "cold start" in decision.reason


def test_predictive_without_windows_is_a_config_error() -> None:
    with pytest.raises(InputError, match="abandonment window"):
        decide(predictive(free_agents=2, busy_elapsed_s=(170.0,) * 10, windows=()))


@pytest.mark.parametrize(
    "fields",
    [
        {"free_agents": -1},
        {"waiting_answered": -2},
        {"busy_elapsed_s": (3.0, -1.0)},
        {"ringing_elapsed_s": (-0.5,)},
        {"wrap_up_left_s": (4.0, -0.1)},
        {"wrap_up_s": -5.0},
    ],
)
def test_impossible_states_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(InputError):
        decide(predictive(**fields))


def test_bad_pacing_config_is_rejected() -> None:
    with pytest.raises(InputError):
        PacingConfig(setpoint=1.5)


elapsed = st.lists(st.floats(min_value=0, max_value=400, allow_nan=False), max_size=25)


@settings(max_examples=150, deadline=None)
@given(
    free=st.integers(0, 25),
    busy=elapsed,
    wrapping=st.lists(st.floats(min_value=0, max_value=60, allow_nan=False), max_size=10),
    wrap_up=st.sampled_from([0.0, 10.0]),
    ringing=st.lists(st.floats(min_value=0, max_value=24, allow_nan=False), max_size=60),
    waiting=st.integers(0, 3),
    answered=st.integers(0, 5000),
    abandon_share=st.floats(0, 0.06),
)
def test_predictive_properties(
    free: int,
    busy: list[float],
    wrapping: list[float],
    wrap_up: float,
    ringing: list[float],
    waiting: int,
    answered: int,
    abandon_share: float,
) -> None:
    state = predictive(
        free_agents=free,
        busy_elapsed_s=tuple(busy),
        wrap_up_left_s=tuple(wrapping),
        wrap_up_s=wrap_up,
        ringing_elapsed_s=tuple(ringing),
        waiting_answered=waiting,
        windows=windows(answered, int(answered * abandon_share)),
    )
    decision = decide(state)
    progressive = max(0, free - len(ringing) - waiting)
    assert decision.calls >= progressive  # never below the no-risk count
    assert decision.calls <= 500
    if decision.reason == "predictive: model":
        # The risk taken stays within the share of the abandonment budget one decision may spend.
        budget = DEFAULT_CONFIG.decision_share * decision.target_abandon_rate
        assert decision.predicted_abandons <= budget * decision.predicted_answers + 1e-9
        assert decision.target_abandon_rate <= 0.03
    # More free agents never means fewer calls.
    assert decide(predictive(**{**_fields(state), "free_agents": free + 1})).calls >= decision.calls
    # Over the limit, predictive is exactly progressive.
    over = predictive(**{**_fields(state), "windows": windows(max(answered, 1), max(answered, 1))})
    assert decide(over).calls == progressive
    # So it is with the measured rate sitting exactly at the 3% cap, however few calls stand behind it.
    at_cap = max(answered // 100, 1)
    capped = predictive(**{**_fields(state), "windows": windows(100 * at_cap, 3 * at_cap)})
    assert decide(capped).calls == progressive
    # An agent near the end of the 120-180 s handle times is dialled for; one just connected is not.
    just_connected = predictive(**{**_fields(state), "busy_elapsed_s": (*busy, 0.0)})
    about_to_free = predictive(**{**_fields(state), "busy_elapsed_s": (*busy, 178.0)})
    assert decide(about_to_free).calls >= decide(just_connected).calls


def _fields(state: CampaignState) -> dict[str, object]:
    return {
        "free_agents": state.free_agents,
        "busy_elapsed_s": state.busy_elapsed_s,
        "wrap_up_left_s": state.wrap_up_left_s,
        "wrap_up_s": state.wrap_up_s,
        "ringing_elapsed_s": state.ringing_elapsed_s,
        "waiting_answered": state.waiting_answered,
        "windows": state.windows,
    }


def test_ledger_windows_forget_old_calls_per_rule() -> None:
    ledger = AbandonLedger((US_TSR_30D, UK_OFCOM_24H))
    ledger.record(0.0, abandoned=True)
    ledger.record(3600.0, abandoned=False)
    ledger.record(90_000.0, abandoned=False)  # 25 h later: the first two left the 24 h window
    us, uk = ledger.windows(90_000.0)
    assert (us.answered, us.abandoned) == (3, 1)
    assert (uk.answered, uk.abandoned) == (1, 0)
    with pytest.raises(InputError):
        ledger.record(10.0, abandoned=False)


def test_tracker_measures_answer_rate_over_its_window() -> None:
    tracker = DialStatsTracker(dial_window=10)
    for i in range(30):
        tracker.record_dial(answered=i >= 25, ring_s=20.0)  # only the last 5 answered
    stats = tracker.snapshot()
    assert stats.answer_rate == pytest.approx(0.5)
    assert stats.dials_measured == 10
    assert stats.answer_delay_s.size == 5


def test_predicted_abandons_are_the_exact_binomial_excess() -> None:
    # One free agent, k calls just dialled and no busy agent: by the end of the horizon every call
    # has answered or given up, so the expected calls left without an agent are exactly
    # E[(B - 1)^+] with B ~ Binomial(k + new calls, p) -- no normal approximation.
    from math import comb

    stats = measured()
    k = 6
    decision = decide(predictive(free_agents=1, ringing_elapsed_s=(0.0,) * k, stats=stats))
    total, p = k + decision.calls, stats.answer_rate
    exact = sum(comb(total, b) * p**b * (1 - p) ** (total - b) * (b - 1) for b in range(2, total + 1))
    assert decision.predicted_abandons == pytest.approx(exact, rel=1e-9)


def test_primed_tracker_skips_the_cold_start_and_real_samples_take_over() -> None:
    tracker = DialStatsTracker(dial_window=100)
    tracker.prime(answer_rate=0.3, answer_delay_s=[15.0, 20.0, 25.0], handle_s=[150.0] * 20, dials=50)
    primed = tracker.snapshot()
    assert primed.dials_measured == 50 and primed.answer_rate == pytest.approx(0.3)
    state = predictive(free_agents=0, busy_elapsed_s=(149.0,) * 20, stats=primed)
    assert "cold start" not in decide(state).reason
    for _ in range(100):  # a real day answering half its calls pushes the prior out of the window
        tracker.record_dial(answered=True, ring_s=10.0)
        tracker.record_dial(answered=False, ring_s=30.0)
    assert tracker.snapshot().answer_rate == pytest.approx(0.5)


@pytest.mark.parametrize(
    "fields",
    [
        {"answer_rate": 0.0},
        {"dials": 0},
        {"answer_delay_s": []},
        {"handle_s": [-1.0]},
    ],
)
def test_bad_prior_is_rejected(fields: dict[str, object]) -> None:
    prior: dict[str, object] = {
        "answer_rate": 0.3,
        "answer_delay_s": [20.0],
        "handle_s": [150.0],
        "dials": 50,
    }
    with pytest.raises(InputError):
        DialStatsTracker().prime(**{**prior, **fields})  # type: ignore[arg-type]


def test_an_agent_whose_handle_time_is_nearly_over_counts_as_nearly_free() -> None:
    # Handle times 120-180 s: 179 s into a call, an agent is ready within the 2 s grace almost surely.
    about_to_free = decide(predictive(free_agents=0, busy_elapsed_s=(179.0,) * 5 + (1.0,) * 15))
    free = decide(predictive(free_agents=5, busy_elapsed_s=(1.0,) * 15))
    assert free.calls > 5
    assert about_to_free.calls >= free.calls - 1
    # Early in their calls the same five give almost nothing to dial ahead for.
    assert decide(predictive(free_agents=0, busy_elapsed_s=(60.0,) * 5 + (1.0,) * 15)).calls <= 1


def test_release_probability_follows_the_elapsed_handle_time() -> None:
    handle = measured().handle_s  # 120-180 s
    offsets = np.array([0.0, 5.0, 10.0, 30.0])
    early, mid, late = release_probabilities(handle, np.array([10.0, 150.0, 176.0]), offsets)
    assert early.max() == 0.0  # 10 s in, nobody frees within 40 s
    assert 0.05 < mid[1] < 0.3 and mid[3] == pytest.approx(1.0)  # 150 s in: ~1/6 within 5 s, surely by 180
    assert late[1] == pytest.approx(1.0)  # 176 s in: ready within 5 s
    assert all(np.diff(row).min() >= 0 for row in (early, mid, late))  # more time, more likely


def test_a_known_wrap_up_ends_when_it_says_and_an_agent_on_a_call_has_it_still_to_do() -> None:
    handle = measured().handle_s
    offsets = np.arange(0.0, 31.0)
    # 150 s into a call that a 20 s wrap-up follows: not ready within the next 20 s, whatever the rest.
    on_call = release_probabilities(handle, np.array([150.0]), offsets, wrap_up_s=20.0)[0]
    blind = release_probabilities(handle, np.array([150.0]), offsets)[0]
    assert on_call[:20].max() == 0.0 and blind[5] > 0
    assert on_call[30] == pytest.approx(1.0)
    # Agents whose wrap-up ends now dial like free agents; one ending after the horizon like nobody.
    busy = (1.0,) * 15
    free = decide(predictive(free_agents=5, busy_elapsed_s=busy))
    wrapping = decide(
        predictive(free_agents=0, busy_elapsed_s=busy, wrap_up_left_s=(0.0, 1.0, 2.0, 0.5, 0.0))
    )
    late = decide(predictive(free_agents=0, busy_elapsed_s=busy, wrap_up_left_s=(90.0,) * 5))
    assert wrapping.calls == free.calls > 5
    assert late.calls == 0


def test_handle_survival_counts_calls_still_up_as_censored() -> None:
    handle = np.sort(np.array([100.0, 120.0, 140.0, 160.0]))
    times, after = handle_survival(handle, np.empty(0))
    assert list(times) == [100.0, 120.0, 140.0, 160.0]
    assert list(after) == pytest.approx([0.75, 0.5, 0.25, 0.0])  # 1 - the empirical distribution
    # Two calls up for 150 s already: longer calls are likelier than the ended ones alone say.
    _, censored = handle_survival(handle, np.array([150.0, 150.0]))
    assert list(censored) == pytest.approx([5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 3 / 4, 0.0])
    assert all(c >= a for c, a in zip(censored, after, strict=True))


def test_a_wrap_up_holds_no_line() -> None:
    state = predictive(free_agents=10, busy_elapsed_s=(170.0,) * 5, wrap_up_left_s=(3.0,) * 5, line_limit=15)
    assert decide(state).calls == 10  # 15 lines - 5 calls up; the 5 agents writing notes use none
