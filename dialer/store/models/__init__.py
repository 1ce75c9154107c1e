"""Every durable table of the dialer, split by domain.

Importing this package registers all of them on ``dialer.store.base.Base.metadata``.
"""

from dialer.store.models.accounts import (
    Account,
    AccountFlagRow,
    FlagSource,
    Phone,
    PhoneStatus,
    PhoneStatusRow,
)
from dialer.store.models.attempts import AttemptState, CallAttempt
from dialer.store.models.campaigns import Campaign, CampaignStatus
from dialer.store.models.collectors import CaseAssignment, Collector, Team
from dialer.store.models.creditors import Creditor
from dialer.store.models.followups import FollowUpRow
from dialer.store.models.messages import (
    MessageAddressRow,
    MessageEventRow,
    MessageRow,
    OptOutRow,
    PaymentLinkRow,
)
from dialer.store.models.notes import AccountNoteRow
from dialer.store.models.payments import PaymentRow, PaymentSource
from dialer.store.models.promises import (
    InstallmentPlanRow,
    InstalmentRow,
    PlanStatus,
    PromiseRow,
    PromiseStatus,
)

__all__ = [
    "Account",
    "AccountFlagRow",
    "AccountNoteRow",
    "AttemptState",
    "CallAttempt",
    "Campaign",
    "CampaignStatus",
    "CaseAssignment",
    "Collector",
    "Creditor",
    "FlagSource",
    "FollowUpRow",
    "InstallmentPlanRow",
    "InstalmentRow",
    "MessageAddressRow",
    "MessageEventRow",
    "MessageRow",
    "OptOutRow",
    "PaymentLinkRow",
    "PaymentRow",
    "PaymentSource",
    "Phone",
    "PhoneStatus",
    "PhoneStatusRow",
    "PlanStatus",
    "PromiseRow",
    "PromiseStatus",
    "Team",
]
