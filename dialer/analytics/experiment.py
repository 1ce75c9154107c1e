"""Champion/challenger: which accounts get the challenger, and whether it did better.

Pure.  Assignment is deterministic: an account's draw is a hash of the experiment's seed and
its account id (uniform on [0, 1)); within each stratum (the account's DPD bucket when the
experiment starts) the accounts are ranked by their draw and the first ``round(share × n)`` get
the challenger, so every bucket holds the challenger's share exactly (to one account) and the
same seed and accounts always give the same arms.

Each arm's numbers are counted from the experiment's start over the accounts in the arm:

* **payer rate** (the primary measure) = accounts in the arm with a payment since the start /
  accounts in the arm;
* **contact rate** = answered / dialled attempts since the start (attempts of one account are
  not independent: its interval is narrower than the truth);
* **RPC rate** = right-party / answered; **PTP rate** = promises / right-party contacts;
* **collected per account** = amount paid since the start / accounts in the arm.

Rates carry a 95 % Wilson interval; challenger against champion is a two-sided two-proportion
z-test (pooled), p from the normal distribution.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

CHAMPION, CHALLENGER = "champion", "challenger"
ARMS = (CHAMPION, CHALLENGER)
Z_95 = 1.959963984540054


def draw(seed: int, account_id: str) -> float:
    """The account's uniform draw in [0, 1) for this seed (SHA-256: stable across processes)."""
    digest = hashlib.sha256(f"{seed}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_arms(accounts: Iterable[tuple[str, str | None]], share: float, seed: int) -> dict[str, str]:
    """(account id, stratum) pairs → arm per account: ``share`` of each stratum to the challenger."""
    if not 0 < share < 1:
        raise ValueError(f"share {share} must be between 0 and 1")
    strata: dict[str | None, list[str]] = {}
    for account_id, stratum in accounts:
        strata.setdefault(stratum, []).append(account_id)
    arms: dict[str, str] = {}
    for members in strata.values():
        ranked = sorted(members, key=lambda a: (draw(seed, a), a))
        cut = round(share * len(ranked))
        for i, account_id in enumerate(ranked):
            arms[account_id] = CHALLENGER if i < cut else CHAMPION
    return arms


@dataclass(frozen=True, slots=True)
class Interval:
    rate: float | None
    low: float | None
    high: float | None


def wilson(k: int, n: int, z: float = Z_95) -> Interval:
    """The Wilson score interval of k successes in n trials (None when n is 0)."""
    if n <= 0:
        return Interval(None, None, None)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True, slots=True)
class ZTest:
    difference: float  # challenger's rate minus champion's
    z: float
    p_value: float

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha


def two_proportion_z(k_champion: int, n_champion: int, k_challenger: int, n_challenger: int) -> ZTest | None:
    """Two-sided pooled z-test of challenger against champion; None when an arm is empty or no
    difference can be measured (every trial alike in both)."""
    if n_champion <= 0 or n_challenger <= 0:
        return None
    p1, p2 = k_champion / n_champion, k_challenger / n_challenger
    pooled = (k_champion + k_challenger) / (n_champion + n_challenger)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_champion + 1 / n_challenger))
    if se == 0:
        return None
    z = (p2 - p1) / se
    return ZTest(p2 - p1, z, math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True, slots=True)
class ArmCounts:
    """One arm's counted facts since the experiment's start."""

    accounts: int = 0
    dialled: int = 0
    answered: int = 0
    right_party: int = 0
    promises: int = 0
    payers: int = 0
    collected: Decimal = Decimal(0)


def arm_summary(c: ArmCounts) -> dict[str, object]:
    """An arm's rates with their intervals, JSON-ready."""

    def rate(k: int, n: int) -> dict[str, float | None]:
        i = wilson(k, n)
        return {"rate": i.rate, "low": i.low, "high": i.high}

    per_account = (c.collected / c.accounts).quantize(Decimal("0.01")) if c.accounts else None
    return {
        "accounts": c.accounts,
        "dialled": c.dialled,
        "answered": c.answered,
        "right_party": c.right_party,
        "promises": c.promises,
        "payers": c.payers,
        "collected": str(c.collected),
        "collected_per_account": None if per_account is None else str(per_account),
        "payer_rate": rate(c.payers, c.accounts),
        "contact_rate": rate(c.answered, c.dialled),
        "rpc_rate": rate(c.right_party, c.answered),
        "ptp_rate": rate(c.promises, c.right_party),
    }


def compare(champion: ArmCounts, challenger: ArmCounts) -> dict[str, object]:
    """Challenger against champion on the payer rate (primary) and the contact rate."""

    def test(k1: int, n1: int, k2: int, n2: int) -> dict[str, float | bool] | None:
        t = two_proportion_z(k1, n1, k2, n2)
        if t is None:
            return None
        return {"difference": t.difference, "z": t.z, "p_value": t.p_value, "significant": t.significant()}

    return {
        "payer_rate": test(champion.payers, champion.accounts, challenger.payers, challenger.accounts),
        "contact_rate": test(champion.answered, champion.dialled, challenger.answered, challenger.dialled),
    }
