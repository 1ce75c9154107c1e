"""Pacing: how many calls a campaign places now, and the simulator that measures it.

``policy.decide`` is pure (no I/O, no clock); the live dialer and ``sim`` both
build a ``CampaignState`` and call it.
"""

from dialer.pacing.policy import (
    ABANDON_GRACE_S,
    DEFAULT_CONFIG,
    CampaignState,
    PacingConfig,
    PacingDecision,
    PacingMode,
    decide,
    over_budget,
    target_abandon_rate,
)
from dialer.pacing.stats import (
    DEFAULT_RULES,
    UK_OFCOM_24H,
    US_TSR_30D,
    AbandonLedger,
    AbandonRule,
    AbandonWindow,
    DialStats,
    DialStatsTracker,
)

__all__ = [
    "ABANDON_GRACE_S",
    "DEFAULT_CONFIG",
    "DEFAULT_RULES",
    "UK_OFCOM_24H",
    "US_TSR_30D",
    "AbandonLedger",
    "AbandonRule",
    "AbandonWindow",
    "CampaignState",
    "DialStats",
    "DialStatsTracker",
    "PacingConfig",
    "PacingDecision",
    "PacingMode",
    "decide",
    "over_budget",
    "target_abandon_rate",
]
