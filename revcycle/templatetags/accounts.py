"""The "Fill from account" box every lookup and claim form starts with: one name for the
action on every page, and the account numbers the user may use suggested as they type."""

from __future__ import annotations

from typing import Any

from django import template

from revcycle.models import Encounter

register = template.Library()

SUGGESTED = 20  # the most recent accounts of the user's facilities


def recent_accounts(user: Any, limit: int = SUGGESTED) -> list[str]:
    """Account numbers of the user's facilities, newest first: never another facility's."""
    return list(Encounter.objects.for_user(user).order_by("-created_at", "-pk")
                .values_list("account_number", flat=True)[:limit])


@register.inclusion_tag("revcycle/_fill_from_account.html", takes_context=True)
def fill_from_account(context: Any, account: str = "") -> dict[str, Any]:
    return {"account": account, "suggestions": recent_accounts(context["request"].user)}
