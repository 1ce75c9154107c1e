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
from typing import Any

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

# One call decides a batch of attempts in order, atomically.  KEYS: the epoch, then 5 keys per
# attempt (account attempts, conversations, connected; phone attempts, abandoned).  ARGV: the
# rule constants (account cap, phone cap, connected cap, key lifetime ms), then 10 per attempt
# (see ``attempt_args``).  Reply: {-1} without an epoch, else {epoch, then per attempt: status,
# number of reasons, reasons…}.
CHECK_AND_RESERVE_LUA = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {-1} end
local acct_max, phone_max, conn_max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local keep_ms = ARGV[4]
local out = {epoch}
local function recent(key, lo) return redis.call('ZCOUNT', key, '(' .. lo, '+inf') end
local n = (#KEYS - 1) / 5
for i = 0, n - 1 do
  local k, a = 1 + 5 * i, 4 + 10 * i
  local att, conv, conn, patt, abn = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
  local at, id, reserve = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local reasons = {}
  if acct_max > 0 and recent(att, ARGV[a + 4]) >= acct_max then reasons[#reasons + 1] = 'account_7_in_7' end
  if ARGV[a + 5] ~= '' and recent(conv, ARGV[a + 5]) > 0 then reasons[#reasons + 1] = 'after_conversation' end
  if phone_max > 0 and recent(patt, ARGV[a + 6]) >= phone_max then
    reasons[#reasons + 1] = 'phone_daily_cap'
  end
  if ARGV[a + 7] ~= '' and recent(att, ARGV[a + 7]) > 0 then reasons[#reasons + 1] = 'min_gap' end
  if conn_max > 0 and redis.call('ZCOUNT', conn, ARGV[a + 8], '+inf') >= conn_max then
    reasons[#reasons + 1] = 'connected_daily_cap'
  end
  if ARGV[a + 9] ~= '' and recent(abn, ARGV[a + 9]) > 0 then reasons[#reasons + 1] = 'abandon_lockout' end
  if #reasons == 0 and reserve == '1' then
    redis.call('ZREMRANGEBYSCORE', att, '-inf', '(' .. ARGV[a + 10])
    redis.call('ZREMRANGEBYSCORE', patt, '-inf', '(' .. ARGV[a + 10])
    redis.call('ZADD', att, at, id)
    redis.call('ZADD', patt, at, id)
    redis.call('PEXPIRE', att, keep_ms)
    redis.call('PEXPIRE', patt, keep_ms)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
  out[#out + 1] = #reasons
  for _, r in ipairs(reasons) do out[#out + 1] = r end
end
return out
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
        """The script's 5 KEYS for one attempt, in its order (after the epoch)."""
        return [
            self.account(account_id, "att"),
            self.account(account_id, "conv"),
            self.account(account_id, "conn"),
            self.phone(phone, "att"),
            self.phone(phone, "abn"),
        ]


def keep_for(rules: FrequencyRules) -> dt.timedelta:
    return rules.horizon() + KEEP_MARGIN


def rule_args(rules: FrequencyRules) -> list[str | int]:
    """The script's leading ARGV: constants of the rule set."""
    return [
        rules.account_max_attempts,
        rules.phone_max_attempts,
        rules.connected_per_day,
        keep_for(rules) // dt.timedelta(milliseconds=1),
    ]


def attempt_args(
    rules: FrequencyRules,
    *,
    at: dt.datetime,
    attempt_id: str,
    reserve: bool,
    phone: str,
    timezone: str | None,
) -> list[str | int]:
    """The script's 10 ARGV for one attempt (a pure function of its inputs)."""
    at_us = to_us(at)

    def lower(span: dt.timedelta | None) -> str:
        return "" if span is None else str(at_us - span // MICROSECOND)

    day_start = ""
    if rules.connected_per_day:
        day_start = str(to_us(local_day_start(at, zones_for(phone, timezone))))
    return [
        at_us,
        attempt_id,
        "1" if reserve else "0",
        lower(rules.account_window),
        lower(rules.after_conversation),
        lower(rules.phone_window),
        lower(rules.min_gap),
        day_start,
        lower(rules.abandon_lockout),
        lower(keep_for(rules)),
    ]


@dataclass(frozen=True, slots=True)
class Verdict:
    reserved: bool
    reasons: list[str]


def parse_reply(reply: list[Any], count: int) -> tuple[str, list[Verdict]] | None:
    """``(epoch, one verdict per attempt)``, or None when the counters have no epoch."""
    if isinstance(reply[0], int):  # STATUS_NO_EPOCH: the epoch itself is always a string
        return None
    epoch = text(reply[0])
    verdicts = []
    i = 1
    for _ in range(count):
        status, n = int(reply[i]), int(reply[i + 1])
        reasons = [text(r) for r in reply[i + 2 : i + 2 + n]]
        verdicts.append(Verdict(status == STATUS_RESERVED, reasons))
        i += 2 + n
    return epoch, verdicts


def text(value: Any) -> str:
    """A Redis reply item as str (replies arrive as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)
