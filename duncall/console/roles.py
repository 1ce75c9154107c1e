"""Roles and what each may do: data, checked by every endpoint."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    DESIGNER = "designer"
    QA = "qa"
    COLLECTOR = "collector"  # works the accounts assigned to them (dialer.assignment)


class Permission(StrEnum):
    USERS_MANAGE = "users_manage"
    AUDIT_READ = "audit_read"
    SCRIPTS_READ = "scripts_read"
    SCRIPTS_WRITE = "scripts_write"
    SCRIPTS_PUBLISH = "scripts_publish"
    CALLS_READ = "calls_read"
    CALLS_EXPORT = "calls_export"
    CALLS_SCORE = "calls_score"  # fill in the QA form on a finished call
    PII_READ = "pii_read"  # debtors' phone numbers and names unmasked
    LIVE_READ = "live_read"
    LIVE_SUPERVISE = "live_supervise"  # listen, whisper, barge into and take over live calls
    CAMPAIGN_CONTROL = "campaign_control"  # pause, resume, stop a campaign; change its pacing limits
    ACCOUNTS_EDIT = "accounts_edit"  # set or clear an account's flags and its numbers' statuses
    KPI_READ = "kpi_read"  # the KPI dashboard and its numbers (amounts only with pii_read)
    PORTFOLIO_READ = "portfolio_read"  # collectors' portfolios and worklists (a collector: their own)
    DESK_WORK = "desk_work"  # work calls at the desk page: ready / paused, the softphone, wrap-up


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SUPERVISOR: frozenset(
        {
            Permission.AUDIT_READ,
            Permission.SCRIPTS_READ,
            Permission.CALLS_READ,
            Permission.CALLS_EXPORT,
            Permission.CALLS_SCORE,
            Permission.PII_READ,
            Permission.LIVE_READ,
            Permission.LIVE_SUPERVISE,
            Permission.CAMPAIGN_CONTROL,
            Permission.ACCOUNTS_EDIT,
            Permission.KPI_READ,
            Permission.PORTFOLIO_READ,
            # A supervisor takes calls too (an escalated debtor, a collector out): the same desk,
            # softphone and click-to-call, under the same guard, with a collector's log-in of their own.
            Permission.DESK_WORK,
        }
    ),
    Role.DESIGNER: frozenset({Permission.SCRIPTS_READ, Permission.SCRIPTS_WRITE, Permission.SCRIPTS_PUBLISH}),
    # QA judges what the bot said, not who was called: no phone numbers or names.
    Role.QA: frozenset(
        {
            Permission.SCRIPTS_READ,
            Permission.CALLS_READ,
            Permission.CALLS_EXPORT,
            Permission.CALLS_SCORE,
            Permission.KPI_READ,
        }
    ),
    # A collector calls the debtors they hold: names and numbers, and their own worklist.
    Role.COLLECTOR: frozenset({Permission.PII_READ, Permission.PORTFOLIO_READ, Permission.DESK_WORK}),
}


def can(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
