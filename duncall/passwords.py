"""Password strength for console users: a minimum length and enough guesses to resist a list.

zxcvbn (Dropbox's estimator, maintained on PyPI) ranks a password against its common-password,
name and word lists and keyboard, repeat and sequence patterns, and estimates the guesses an
attacker needs; ten spaces, ``1234567890`` and ``password123`` all score 0.  We ask for a score
of 3 ("safely unguessable: moderate protection from an offline slow-hash attack", about 10^8
guesses) — the console stores argon2id hashes, which is that slow hash.
"""

from __future__ import annotations

from collections.abc import Sequence

from zxcvbn import zxcvbn

from foundation.errors import InputError

MIN_PASSWORD_CHARS = 10
MIN_SCORE = 3  # zxcvbn's 0–4 scale
ZXCVBN_MAX_CHARS = 100  # zxcvbn's run time grows with length; beyond this a password is long enough


def check_password(password: str, user_inputs: Sequence[str] = ()) -> None:
    """``InputError`` saying why ``password`` is too weak (``user_inputs``: the user's name…)."""
    fix = "choose a passphrase of a few unrelated words, or let a password manager make one"
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(
            f"the password has {len(password)} characters; at least {MIN_PASSWORD_CHARS} are required", fix
        )
    if not password.strip():
        raise InputError("the password is only spaces", fix)
    result = zxcvbn(password[:ZXCVBN_MAX_CHARS], user_inputs=list(user_inputs))
    if result["score"] < MIN_SCORE:
        warning = (result.get("feedback") or {}).get("warning") or "it is easy to guess"
        raise InputError(f"the password is too weak: {warning.rstrip('.')}".rstrip(":"), fix)
