"""The error tree every layer raises.

Each error says what is wrong, how to fix it, and whether retrying the same
operation can help (``retryable``).  The CLI turns any ``DuncallError`` into a
single line on stderr and a non-zero exit; it never shows a traceback for one.

A compliance denial is deliberately *not* in this tree: it derives from
``BaseException`` so that no ``except Exception`` or generic retry loop can
swallow it and dial anyway.
"""

from __future__ import annotations


class DuncallError(Exception):
    """Base of every expected failure."""

    exit_code = 1

    def __init__(self, what: str, fix: str = "", *, retryable: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix
        self.retryable = retryable

    def one_line(self) -> str:
        line = self.what
        if self.fix:
            line += f" — {self.fix}"
        return line


class ConfigError(DuncallError):
    """A configuration, script, persona or data file is invalid. Retrying never helps."""

    exit_code = 2


class InputError(DuncallError):
    """Input given on the command line or stdin is invalid."""

    exit_code = 2


class ServiceUnavailable(DuncallError):
    """A service (Asterisk, Redis, the database) cannot be reached; retrying later may help."""

    exit_code = 3

    def __init__(self, what: str, fix: str = "", *, retryable: bool = True) -> None:
        super().__init__(what, fix, retryable=retryable)


class AuthError(DuncallError):
    """Credentials were refused. Retrying with the same credentials never helps."""

    exit_code = 4


class ComplianceDenied(BaseException):
    """A guard denied a dial. Never caught by ``except Exception``; never retried blindly."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons
