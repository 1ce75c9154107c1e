"""The frequency counters in Redis: one Lua script checks every counter rule and
reserves the attempt in the same atomic step, so dialer processes sharing a Redis
can never both take the last slot.

Layout under a prefix ``P`` (sorted sets, member = attempt id, score = attempt
time in integer microseconds since the Unix epoch — exact in a double until 2255):

* ``P epoch``              — present while the counters are trustworthy (see ``Guard.rebuild``)
* ``P a:<account>:att``    — the account's reserved attempts
* ``P a:<account>:conv``   — attempts that had a right-party conversation
* ``P a:<account>:conn``   — attempts that connected (CN daily cap)
* ``P p:<phone>:att``      — reserved attempts to the number, any account
* ``P p:<phone>:abn``      — abandoned calls to the number (UK lockout)

Every window's lower bound is computed in Python and passed as a string: Lua
would print a microsecond timestamp as ``1.77e+15`` and lose the digits.  Counts
include entries later than ``at`` (another dialer's clock may run ahead), which
is stricter than "in the last N hours" and keeps every window within its cap
whatever order the dialers' reservations arrive in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dialer.policy.decide import local_day_start
from dialer.policy.rules import FrequencyRules
from dialer.policy.zones import zones_for

UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
# Keys outlive the longest window by this much, so a dialer clock a little ahead of
# another's never trims or expires history the other still needs.
KEEP_MARGIN = dt.timedelta(days=1)

STATUS_RESERVED = 1
STATUS_DENIED = 0
STATUS_NO_EPOCH = -1

CHECK_AND_RESERVE_LUA = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {-1} end
local reasons = {}
local function recent(key, lo) return redis.call('ZCOUNT', key, '(' .. lo, '+inf') end
local acct_max = tonumber(ARGV[4])
if acct_max > 0 and recent(KEYS[2], ARGV[5]) >= acct_max then reasons[#reasons + 1] = 'account_7_in_7' end
if ARGV[6] ~= '' and recent(KEYS[3], ARGV[6]) > 0 then reasons[#reasons + 1] = 'after_conversation' end
local phone_max = tonumber(ARGV[7])
if phone_max > 0 and recent(KEYS[5], ARGV[8]) >= phone_max then reasons[#reasons + 1] = 'phone_daily_cap' end
if ARGV[9] ~= '' and recent(KEYS[2], ARGV[9]) > 0 then reasons[#reasons + 1] = 'min_gap' end
local conn_max = tonumber(ARGV[10])
if conn_max > 0 and redis.call('ZCOUNT', KEYS[4], ARGV[11], '+inf') >= conn_max then
  reasons[#reasons + 1] = 'connected_daily_cap'
end
if ARGV[12] ~= '' and recent(KEYS[6], ARGV[12]) > 0 then reasons[#reasons + 1] = 'abandon_lockout' end
if #reasons > 0 or ARGV[3] ~= '1' then return {0, epoch, unpack(reasons)} end
for i = 2, 6 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[13]) end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[14])
redis.call('PEXPIRE', KEYS[5], ARGV[14])
return {1, epoch}
"""

RELEASE_LUA = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# Delete the rebuild lock only if we still hold it.
UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def to_us(at: dt.datetime) -> int:
    """``at`` as integer microseconds since the Unix epoch (exact, no float rounding)."""
    return (at - UNIX_EPOCH) // MICROSECOND


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    @property
    def epoch(self) -> str:
        return f"{self.prefix}epoch"

    @property
    def rebuild_lock(self) -> str:
        return f"{self.prefix}rebuild-lock"

    def account(self, account_id: str, kind: str) -> str:
        return f"{self.prefix}a:{account_id}:{kind}"

    def phone(self, phone: str, kind: str) -> str:
        return f"{self.prefix}p:{phone}:{kind}"

    def for_attempt(self, account_id: str, phone: str) -> list[str]:
        """KEYS of the check-and-reserve script, in its order."""
        return [
            self.epoch,
            self.account(account_id, "att"),
            self.account(account_id, "conv"),
            self.account(account_id, "conn"),
            self.phone(phone, "att"),
            self.phone(phone, "abn"),
        ]


def keep_for(rules: FrequencyRules) -> dt.timedelta:
    return rules.horizon() + KEEP_MARGIN


def script_args(
    rules: FrequencyRules,
    *,
    at: dt.datetime,
    attempt_id: str,
    reserve: bool,
    phone: str,
    timezone: str | None,
) -> list[str | int]:
    """ARGV of the check-and-reserve script for one attempt (a pure function of its inputs)."""
    at_us = to_us(at)

    def lower(span: dt.timedelta | None) -> str:
        return "" if span is None else str(at_us - span // MICROSECOND)

    day_start = ""
    if rules.connected_per_day:
        day_start = str(to_us(local_day_start(at, zones_for(phone, timezone))))
    keep = keep_for(rules)
    return [
        at_us,
        attempt_id,
        "1" if reserve else "0",
        rules.account_max_attempts,
        lower(rules.account_window),
        lower(rules.after_conversation),
        rules.phone_max_attempts,
        lower(rules.phone_window),
        lower(rules.min_gap),
        rules.connected_per_day,
        day_start,
        lower(rules.abandon_lockout),
        lower(keep),
        keep // dt.timedelta(milliseconds=1),
    ]
