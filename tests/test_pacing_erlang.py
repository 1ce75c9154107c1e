"""Erlang B and C, and the static-dialer bound derived from them."""

from __future__ import annotations

import pytest

from dialer.pacing.erlang import erlang_b, erlang_b_bound, erlang_c, erlang_c_bound, load_for_blocking
from foundation.errors import InputError

pytestmark = pytest.mark.unit


def test_erlang_b_matches_its_closed_form() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)  # (1/2) / (1 + 1 + 1/2)


def test_erlang_b_matches_published_tables() -> None:
    # Standard Erlang-B tables: 20 lines carry 13.18 E at 2% and 15.25 E at 5% blocking.
    assert load_for_blocking(20, 0.02) == pytest.approx(13.18, abs=0.01)
    assert load_for_blocking(20, 0.05) == pytest.approx(15.25, abs=0.01)


def test_erlang_c_closed_form_for_one_server() -> None:
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(3, 3.0) == 1.0


def test_static_dialer_bound_for_twenty_agents_at_three_percent() -> None:
    bound = erlang_b_bound(20, 0.03)
    assert erlang_b(20, bound.offered_erlangs) == pytest.approx(0.03, abs=1e-6)
    assert 0.66 < bound.occupancy < 0.70
    # Waiting (with 2 s of patience) is worse than losing for a static dialer: C lies below B.
    assert erlang_c_bound(20, 0.03, 150.0, 2.0).occupancy < bound.occupancy


@pytest.mark.parametrize(("lines", "target"), [(0, 0.03), (20, 0.0), (20, 1.2)])
def test_bad_bound_arguments(lines: int, target: float) -> None:
    with pytest.raises(InputError):
        erlang_b_bound(lines, target)
