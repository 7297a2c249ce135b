"""Who may do what, and whose records they may load: revcycle/roles.py and revcycle/access.py
one function at a time (written from `make mutants`' survivors in those modules)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse

from revcycle import roles
from revcycle.access import connections_for, default_facility, facilities_for, get_for_user
from revcycle.models import Connection, Encounter


def test_an_anonymous_visitor_has_no_role_and_no_permission() -> None:
    visitor = AnonymousUser()
    assert roles.role_names(visitor) == set()
    assert not roles.has_perm(visitor, "view_results")
    assert not roles.has_perm(None, "view_results")
    assert not roles.can_see_full_ssn(visitor)


def test_a_user_has_the_roles_of_their_groups(alice: User, maya: User, ada: User) -> None:
    assert roles.role_names(alice) == {"biller"}
    assert roles.role_names(maya) == {"manager"}
    assert roles.role_names(ada) == {"admin"}


def test_a_superuser_holds_every_role(db: Any) -> None:
    root = User.objects.create_superuser("root", "root@example.org", "x")
    assert roles.role_names(root) == {"biller", "manager", "admin"}


def test_the_roles_are_read_once_per_request(alice: User,
                                             django_assert_num_queries: Any) -> None:
    roles.role_names(alice)
    with django_assert_num_queries(0):
        assert roles.role_names(alice) == {"biller"}


def test_each_role_has_its_permissions_and_not_the_next_ones(alice: User, maya: User,
                                                              ada: User) -> None:
    assert roles.has_perm(alice, "run_lookups") and roles.has_perm(alice, "export_results")
    assert not roles.has_perm(alice, "view_audit_log")
    assert roles.has_perm(maya, "view_audit_log")
    assert not roles.has_perm(maya, "manage_connections")
    assert roles.has_perm(ada, "manage_connections")


def test_only_managers_and_admins_see_an_ssn_in_full(alice: User, maya: User,
                                                     ada: User) -> None:
    assert not roles.can_see_full_ssn(alice)
    assert roles.can_see_full_ssn(maya) and roles.can_see_full_ssn(ada)


def test_a_refusal_names_the_action_and_the_roles_that_may_do_it() -> None:
    assert roles.refusal("view_audit_log") == (
        "Your role does not allow you to read the audit log: only managers and admins can.")
    assert roles.refusal("run_lookups") == (
        "Your role does not allow you to run lookups and submit claims: only billers and "
        "managers and admins can.")
    assert roles.refusal("nothing_at_all") == (
        "Your role does not allow you to do this: only no role can.")


def test_a_guarded_view_runs_only_for_a_role_that_grants_it(rf: Any, alice: User,
                                                            maya: User) -> None:
    calls: list[tuple[Any, ...]] = []

    @roles.permission_required("view_audit_log")
    def audit_page(request: Any, pk: int, *, tab: str) -> HttpResponse:
        """The audit page."""
        calls.append((request.user, pk, tab))
        return HttpResponse("the log")

    request = rf.get("/")
    request.user = alice
    with pytest.raises(PermissionDenied, match="read the audit log: only managers and admins"):
        audit_page(request, 7, tab="all")
    assert calls == []
    request.user = maya
    assert audit_page(request, 7, tab="all").content == b"the log"
    assert calls == [(maya, 7, "all")]
    assert audit_page.__name__ == "audit_page" and audit_page.__doc__ == "The audit page."


def test_a_record_of_another_facility_is_404(alice: User, bob: User,
                                             encounter: Encounter) -> None:
    assert get_for_user(Encounter.objects, alice, pk=encounter.pk) == encounter
    with pytest.raises(Http404, match="^No such record, or it belongs to a facility you do "
                                      "not work for.$"):
        get_for_user(Encounter.objects, bob, pk=encounter.pk)
    with pytest.raises(Http404):
        get_for_user(Encounter.objects, alice, pk=encounter.pk + 1000)


def test_get_for_user_applies_the_lookup(alice: User, encounter: Encounter) -> None:
    other = Encounter.objects.create(facility=encounter.facility, account_number="ACC2002",
                                     patient_first_name="JOHN", patient_last_name="ROE")
    assert get_for_user(Encounter.objects, alice, account_number="ACC2002") == other
    assert get_for_user(Encounter.objects, alice, account_number="ACC1001") == encounter


def test_connections_for_a_user_are_active_of_the_kind_and_serve_their_facility(
        alice: User, bob: User, st_marys: Any, lakeside: Any, integrex: Connection,
        payer: Connection) -> None:
    payer.facilities.add(lakeside)  # serves both: listed once
    lakeside.members.add(alice)
    assert list(connections_for(alice, "payer")) == [payer]
    assert list(connections_for(alice, "integrex")) == [integrex]
    assert list(connections_for(bob, "integrex")) == []
    Connection.objects.filter(pk=payer.pk).update(active=False)
    assert list(connections_for(alice, "payer")) == []


def test_a_users_default_facility_is_one_of_theirs(alice: User, bob: User, ada: User,
                                                    st_marys: Any, lakeside: Any,
                                                    db: Any) -> None:
    assert default_facility(alice) == st_marys
    assert default_facility(bob) == lakeside
    assert list(facilities_for(bob)) == [lakeside]
    nobody = User.objects.create_user("nobody", "n@example.org", "x")
    assert default_facility(nobody) is None
    assert set(facilities_for(ada)) == {st_marys, lakeside}
