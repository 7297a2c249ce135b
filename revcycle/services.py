"""The registry of external services and of the tickets sent to them.

The core names no vendor: what differs per service (how it authenticates, the headers every
call carries, which credentials a connection needs) is a `Service`, and what differs per
ticket kind (how a request reads as account / patient / payer / amount / service date, the
outcome labels and the advice for the biller) is a `TicketKind`. Each app registers its own
from its `AppConfig.ready()`, the way healthchecks maps each integration kind to its
transport in one table. This module imports nothing of the project's, so models, http,
oauth and api can all read it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q, Sum


class Auth(enum.StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"  # OAuth2, HTTP Basic client auth
    PASSWORD = "password"  # OAuth2 resource-owner password grant, rotating refresh token
    NONE = "none"  # no token: the service authenticates by headers (an API key) or not at all


def no_headers(connection: Any) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Service:
    """An external service a `Connection` of `kind` talks to."""

    kind: str  # Connection.kind, stored in the database: never rename one
    label: str
    auth: Auth = Auth.NONE
    token_path: str = ""  # below the base URL, when the connection leaves it blank
    headers: Callable[[Any], dict[str, str]] = no_headers  # extra headers for a connection
    credential_fields: tuple[str, ...] = ()  # Connection fields this service needs
    currency: str = ""  # ISO 4217 code of the amounts it deals in ("" when unknown)

    @property
    def uses_oauth(self) -> bool:
        return self.auth != Auth.NONE


@dataclass(frozen=True)
class Summary:
    """The plain list columns of a ticket, read from its request (blank when unknown)."""

    account: str = ""
    patient: str = ""
    payer: str = ""
    amount: Decimal | None = None
    service_date: date | None = None


def no_summary(request: dict[str, Any]) -> Summary:
    return Summary()


def no_url(ticket: Any) -> str:
    return ""


@dataclass(frozen=True)
class TicketKind:
    """What the core shows of a kind of ticket (the engine's `Kind` says how to run it)."""

    name: str  # Ticket.kind
    service: str  # the Service.kind it talks to
    label: str = ""  # what the screens call it ("Claim status"), never the stored name
    summary: Callable[[dict[str, Any]], Summary] = no_summary
    outcome_labels: dict[str, str] = field(default_factory=dict)
    outcome_advice: dict[str, str] = field(default_factory=dict)
    default_advice: str = ""  # for an outcome without advice of its own
    # The page where a person reads this ticket's result ("" when there is none).
    detail_url: Callable[[Any], str] = no_url


SERVICES: dict[str, Service] = {}
TICKET_KINDS: dict[str, TicketKind] = {}


def _register(registry: dict[str, Any], key: str, entry: Any) -> Any:
    """Registering the same definition again is a no-op (an app's ready() may run twice
    in tests); a different definition under a taken name is a mistake, said at start-up."""
    known = registry.get(key)
    if known is not None and known != entry:
        raise ImproperlyConfigured(f"{key!r} is already registered as {known!r}.")
    registry[key] = entry
    return entry


def register(service: Service) -> Service:
    return _register(SERVICES, service.kind, service)


def register_ticket_kind(kind: TicketKind) -> TicketKind:
    return _register(TICKET_KINDS, kind.name, kind)


def unregister(name: str) -> None:
    """Forget a service or ticket kind (tests that register a toy one clean up with it)."""
    SERVICES.pop(name, None)
    TICKET_KINDS.pop(name, None)


def get(kind: str) -> Service:
    try:
        return SERVICES[kind]
    except KeyError:
        raise ImproperlyConfigured(
            f"No service {kind!r} is registered; known: {', '.join(sorted(SERVICES))}.") from None


def kind_choices() -> list[tuple[str, str]]:
    """Connection.kind's choices (a callable, so apps may register after models load)."""
    return sorted((s.kind, s.label) for s in SERVICES.values())


def for_connection(connection: Any) -> Service:
    return get(connection.kind)


def summarise(ticket_kind: str, request: dict[str, Any]) -> Summary:
    kind = TICKET_KINDS.get(ticket_kind)
    return kind.summary(request) if kind else Summary()


def currency(name: str) -> str:
    """The currency of a ticket kind's or a service's amounts ("" when not registered)."""
    kind = TICKET_KINDS.get(name)
    service = SERVICES.get(kind.service if kind else name)
    return service.currency if service else ""


def currency_kinds() -> dict[str, list[str]]:
    """Each currency and the service kinds whose amounts are in it."""
    out: dict[str, list[str]] = {}
    for service in SERVICES.values():
        if service.currency:
            out.setdefault(service.currency, []).append(service.kind)
    return out


def sums_per_currency(field: str = "amount",
                      kind_path: str = "connection__kind") -> dict[str, Sum]:
    """`Sum(field)` apart for each currency, keyed `sum_<code>`, for aggregate() or
    annotate(): the one way pages add up amounts, because a sum across currencies means
    nothing. An amount of a service with no currency is in no sum."""
    return {f"sum_{code}": Sum(field, filter=Q(**{f"{kind_path}__in": kinds}))
            for code, kinds in sorted(currency_kinds().items())}


def currency_totals(sums: dict[str, Any]) -> list[tuple[str, Decimal]]:
    """The (currency, amount) pairs of a row made with sums_per_currency, by code, leaving
    out currencies with no amount."""
    return [(code, sums[f"sum_{code}"]) for code in sorted(currency_kinds())
            if sums.get(f"sum_{code}") is not None]


def kind_label(ticket_kind: str) -> str:
    kind = TICKET_KINDS.get(ticket_kind)
    return (kind.label if kind else "") or ticket_kind.replace("_", " ").capitalize()


def ticket_url(ticket: Any) -> str:
    kind = TICKET_KINDS.get(ticket.kind)
    return kind.detail_url(ticket) if kind else ""


def outcome_labels() -> dict[str, str]:
    """Every registered outcome label; a kind registered first wins a shared outcome."""
    labels: dict[str, str] = {}
    for kind in TICKET_KINDS.values():
        for outcome, label in kind.outcome_labels.items():
            labels.setdefault(outcome, label)
    return labels


def outcome_label(outcome: str, ticket_kind: str | None = None) -> str:
    kind = TICKET_KINDS.get(ticket_kind or "")
    if kind and outcome in kind.outcome_labels:
        return kind.outcome_labels[outcome]
    return outcome_labels().get(outcome) or outcome.replace("_", " ").capitalize()


def outcome_advice(outcome: str, ticket_kind: str | None = None) -> str:
    """A known kind's own advice only: another domain's words ("read the error, fix it")
    would be wrong for it. Without a kind, the first registered advice for the outcome."""
    if ticket_kind in TICKET_KINDS:
        kinds = [TICKET_KINDS[ticket_kind]]
    else:
        kinds = list(TICKET_KINDS.values())
    for kind in kinds:
        if outcome in kind.outcome_advice:
            return kind.outcome_advice[outcome]
    for kind in kinds:
        if kind.default_advice:
            return kind.default_advice
    return ""
