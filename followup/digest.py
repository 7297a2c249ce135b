"""The daily digest by email: new worklist items, Smart invoices not Billed, connections
in trouble. Account numbers and counts only, never patient names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from followup import health, sources, worklist
from followup.models import DigestSent, FollowUp, NotificationPreference, RecheckPolicy
from revcycle import services
from revcycle.roles import ADMIN, MANAGER
from revcycle.templatetags.money import format_money

MAX_ACCOUNTS = 20


@dataclass
class Digest:
    new_items: int = 0
    new_accounts: list[str] = field(default_factory=list)
    assigned_open: int = 0
    smart_count: int = 0
    smart_amounts: list[tuple[str, Decimal]] = field(default_factory=list)  # per currency
    troubled: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.new_items or self.assigned_open or self.smart_count or self.troubled)

    def text(self, today: date) -> str:
        lines = [f"revcycle daily digest for {today:%Y-%m-%d}", ""]
        lines.append(f"New on the worklist since yesterday: {self.new_items}")
        if self.new_accounts:
            lines.append("  accounts: " + ", ".join(self.new_accounts))
        lines.append(f"Open items assigned to you: {self.assigned_open}")
        at_risk = " and ".join(format_money(amount, code) for code, amount in self.smart_amounts)
        lines.append(f"Smart invoices not Billed: {self.smart_count} "
                     f"({at_risk or format_money(0)} at risk)")
        if self.troubled:
            lines.append("Connections in trouble: " + ", ".join(self.troubled))
        lines += ["", "Open the worklist in revcycle to act on them. Turn this email off "
                  "under My settings."]
        return "\n".join(lines)


def recipients() -> Any:
    """Everyone with open assigned items, and the billing officers (managers, admins)."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    return users.filter(
        Q(followups__status=FollowUp.Status.OPEN) | Q(groups__name__in=[MANAGER, ADMIN])
    ).distinct().order_by("pk")


def build(user: Any, now: datetime, policy: RecheckPolicy, troubled: list[str]) -> Digest:
    items = worklist.open_items(worklist.needing_person(user, now, policy))
    since = now - timedelta(days=1)
    new = items.filter(Q(finished_at__gte=since) | Q(finished_at__isnull=True,
                                                      created_at__gte=since))
    smart = items.filter(sources.money_at_risk_condition(now, policy))
    is_officer = user.groups.filter(name__in=[MANAGER, ADMIN]).exists()
    smart_totals = services.currency_totals(smart.aggregate(**services.sums_per_currency()))
    return Digest(
        new_items=new.count(),
        new_accounts=list(new.exclude(account_number="").order_by("account_number")
                          .values_list("account_number", flat=True).distinct()[:MAX_ACCOUNTS]),
        assigned_open=items.filter(followup__assignee=user).count(),
        smart_count=smart.count(), smart_amounts=smart_totals,
        troubled=troubled if is_officer else [],
    )


def send_all(now: datetime | None = None) -> int:
    """Send today's digest to each recipient once; returns how many were sent."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    policy = RecheckPolicy.get()
    troubled = [c.name for c in health.troubled(now)]
    sent = 0
    for user in recipients():
        if not NotificationPreference.wants_digest(user):
            continue
        if DigestSent.objects.filter(user=user, date=today).exists():
            continue
        digest = build(user, now, policy, troubled)
        if digest.empty:
            continue
        with transaction.atomic():
            _, created = DigestSent.objects.get_or_create(
                user=user, date=today, defaults={"items": digest.new_items})
            if not created:  # another worker got here first
                continue
            # Inside the transaction: if sending fails the row goes too, and we try again.
            send_mail(f"revcycle: {digest.new_items} new worklist items", digest.text(today),
                      settings.DEFAULT_FROM_EMAIL, [user.email])
        sent += 1
    return sent
