"""The service registry: one definition per service, told apart from a clash."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from revcycle import services


@pytest.fixture
def cleanup() -> Iterator[None]:
    yield
    services.unregister("registry_test")


def test_registering_the_same_service_twice_keeps_one(cleanup: None) -> None:
    service = services.Service(kind="registry_test", label="Registry test")
    services.register(service)
    services.register(services.Service(kind="registry_test", label="Registry test"))
    assert services.get("registry_test") == service
    assert [k for k, _ in services.kind_choices()].count("registry_test") == 1


def test_a_second_definition_under_a_taken_kind_is_refused(cleanup: None) -> None:
    services.register(services.Service(kind="registry_test", label="Registry test"))
    with pytest.raises(ImproperlyConfigured, match="already registered"):
        services.register(services.Service(kind="registry_test", label="Another",
                                           auth=services.Auth.PASSWORD))
    assert services.get("registry_test").label == "Registry test"


def test_every_app_registers_its_service_once() -> None:
    assert services.kind_choices() == [("integrex", "Integrex Health"),
                                       ("payer", "Payer claims API (HCMS)"),
                                       ("smart", "Smart (SmartLink)")]
    assert {k: services.get(k).auth for k in ("integrex", "smart", "payer")} == {
        "integrex": services.Auth.CLIENT_CREDENTIALS, "smart": services.Auth.PASSWORD,
        "payer": services.Auth.NONE}


def test_an_unknown_service_says_which_ones_are_known() -> None:
    with pytest.raises(ImproperlyConfigured, match="known: integrex, payer, smart"):
        services.get("nope")
