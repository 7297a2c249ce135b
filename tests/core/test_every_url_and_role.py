"""Every URL pattern against every role, in one table: biller, manager, admin, and a member
of the facility who holds no role. A new URL pattern without a line here fails, so no view
is added without someone deciding who may open it.

A route that only takes POST is asked with an empty POST (the role check must come before
the form is read); sample ids name no record, so a 404 means "allowed past the role check,
nothing there". Django admin routes follow one rule (only staff get past the admin's login),
and the admin role's answer for each is checked against the admin's own permissions in
test_roles.py and test_audit_admin.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.core.test_every_page_needs_login import Route, all_routes

ROLES = ("biller", "manager", "admin", "no role")

# name: (biller, manager, admin, member with no role)
EXPECTED: dict[str, tuple[int, int, int, int]] = {
    "home": (200, 200, 200, 200),
    "healthz": (503, 503, 503, 503),
    "login": (200, 200, 200, 200),
    "logout": (302, 302, 302, 302),
    "session_status": (200, 200, 200, 200),
    "twofactor_verify": (200, 200, 200, 200),
    "twofactor_setup": (200, 200, 200, 200),
    "encounters": (200, 200, 200, 403),
    "encounter_detail": (404, 404, 404, 403),
    "audit_log": (403, 200, 200, 403),
    "audit_export": (403, 200, 200, 403),
    "payer:list": (200, 200, 200, 403),
    "payer:export": (200, 200, 200, 403),
    "payer:new": (200, 200, 200, 403),
    "payer:code": (200, 200, 200, 403),
    "payer:detail": (404, 404, 404, 403),
    "payer:resend": (403, 404, 404, 403),
    "payer:found": (404, 404, 404, 403),
    "payer:webhook": (404, 404, 404, 404),
    "payer:ticket": (404, 404, 404, 403),
    "payer:batch_list": (200, 200, 200, 403),
    "payer:batch_upload": (200, 200, 200, 403),
    "payer:batch_template": (200, 200, 200, 403),
    "payer:batch_detail": (404, 404, 404, 403),
    "payer:batch_errors": (404, 404, 404, 403),
    "payer:batch_export": (404, 404, 404, 403),
    "claims:status_home": (200, 200, 200, 403),
    "claims:status_new": (200, 200, 200, 403),
    "claims:status_export": (200, 200, 200, 403),
    "claims:check_again_selected": (302, 302, 302, 403),
    "claims:status_detail": (404, 404, 404, 403),
    "claims:check_again": (404, 404, 404, 403),
    "claims:batch_list": (200, 200, 200, 403),
    "claims:batch_upload": (200, 200, 200, 403),
    "claims:batch_template": (200, 200, 200, 403),
    "claims:batch_detail": (404, 404, 404, 403),
    "claims:batch_errors": (404, 404, 404, 403),
    "claims:batch_export": (404, 404, 404, 403),
    "eligibility:home": (200, 200, 200, 403),
    "eligibility:new": (200, 200, 200, 403),
    "eligibility:export": (200, 200, 200, 403),
    "eligibility:result": (404, 404, 404, 403),
    "eligibility:check_again": (404, 404, 404, 403),
    "eligibility:apply": (404, 404, 404, 403),
    "eligibility:batch_list": (200, 200, 200, 403),
    "eligibility:batch_upload": (200, 200, 200, 403),
    "eligibility:batch_template": (200, 200, 200, 403),
    "eligibility:batch_detail": (404, 404, 404, 403),
    "eligibility:batch_errors": (404, 404, 404, 403),
    "eligibility:batch_export": (404, 404, 404, 403),
    "smartlink:desk": (200, 200, 200, 403),
    "smartlink:lookup": (200, 200, 200, 403),
    "smartlink:visit": (404, 404, 404, 403),
    "smartlink:activate": (404, 404, 404, 403),
    "smartlink:renewal": (404, 404, 404, 403),
    "smartlink:refresh_member": (404, 404, 404, 403),
    "smartlink:copay": (404, 404, 404, 403),
    "smartlink:post_invoice": (404, 404, 404, 403),
    "smartlink:invoice": (404, 404, 404, 403),
    "smartlink:check_status": (404, 404, 404, 403),
    "smartlink:record_reason": (404, 404, 404, 403),
    "smartlink:late_diagnosis": (404, 404, 404, 403),
    "smartlink:not_billed": (200, 200, 200, 403),
    "smartlink:not_billed_csv": (200, 200, 200, 403),
    "followup:worklist": (200, 200, 200, 403),
    "followup:worklist_export": (200, 200, 200, 403),
    "followup:act": (302, 302, 302, 403),
    "followup:save_view": (302, 302, 302, 403),
    "followup:delete_view": (302, 302, 302, 403),
    "followup:account": (404, 404, 404, 403),
    "followup:add_note": (404, 404, 404, 403),
    "followup:dashboard": (200, 200, 200, 403),
    "followup:dashboard_csv": (404, 404, 404, 403),
    "followup:recheck_policy": (403, 403, 200, 403),
    "followup:my_settings": (200, 200, 200, 200),
    "sandbox:knobs": (200, 200, 200, 200),
    "sandbox:stats": (200, 200, 200, 200),
    "sandbox:stats-reset": (200, 200, 200, 200),
    "sandbox:revoke-tokens": (200, 200, 200, 200),
    "sandbox:integrex-auth": (401, 401, 401, 401),
    "sandbox:integrex-health": (200, 200, 200, 200),
    "sandbox:integrex-claim-info": (401, 401, 401, 401),
    "sandbox:integrex-insurance-discovery": (401, 401, 401, 401),
    "sandbox:smart-token": (401, 401, 401, 401),
    "sandbox:smart-visits": (401, 401, 401, 401),
    "sandbox:smart-merge": (401, 401, 401, 401),
    "sandbox:smart-member": (401, 401, 401, 401),
    "sandbox:smart-copayment": (401, 401, 401, 401),
    "sandbox:smart-claims": (401, 401, 401, 401),
    "sandbox:smart-claim-status": (401, 401, 401, 401),
    "sandbox:smart-clinic-record": (401, 401, 401, 401),
    "sandbox:smart-desk": (403, 403, 200, 403),
    "sandbox:payer-claims": (400, 400, 400, 400),
    "sandbox:payer-claim": (404, 404, 404, 404),
    "sandbox:payer-webhook-register": (405, 405, 405, 405),
}


MACHINE_ENDPOINTS = {name for name in EXPECTED
                     if name.startswith("sandbox:") and name != "sandbox:smart-desk"}


def _routes() -> list[Route]:
    return [r for r in all_routes() if not r.name.startswith("admin:")]


@pytest.fixture
def cast(alice: User, maya: User, ada: User, st_marys: Any) -> dict[str, User]:
    carl = User.objects.create_user("carl", "carl@example.org", "pw")
    st_marys.members.add(carl)
    return {"biller": alice, "manager": maya, "admin": ada, "no role": carl}


def test_every_url_pattern_has_a_line_in_the_table(db: Any) -> None:
    names = {r.name for r in _routes()}
    assert sorted(names - EXPECTED.keys()) == [], "add these routes to EXPECTED"
    assert sorted(EXPECTED.keys() - names) == [], "these routes are gone: remove their lines"


@pytest.mark.parametrize("route", _routes(), ids=lambda r: r.name)
def test_each_role_gets_the_expected_answer(client_for: Any, cast: dict[str, User],
                                            integrex: Any, route: Route) -> None:
    answers = []
    for role in ROLES:
        client = client_for(cast[role])  # managers and admins pass their second factor
        response = client.get(route.url)
        if response.status_code == 405:
            response = client.post(route.url)
        answers.append(response.status_code)
    if route.name in MACHINE_ENDPOINTS:
        # The sandbox's fake services answer machines, not roles; what they answer an empty
        # request depends on the sandbox's state, so only "the same for every role" holds.
        assert len(set(answers)) == 1, dict(zip(ROLES, answers, strict=True))
        return
    assert tuple(answers) == EXPECTED.get(route.name), dict(zip(ROLES, answers, strict=True))


@pytest.mark.parametrize("role", ROLES[:2] + ROLES[3:])
def test_only_staff_get_past_the_admins_login(client_for: Any, cast: dict[str, User],
                                              role: str) -> None:
    client = client_for(cast[role])
    admin_routes = [r for r in all_routes() if r.name.startswith("admin:")
                    and r.name not in ("admin:login", "admin:logout")]
    answers = {r.url: client.get(r.url) for r in admin_routes[::7]}  # a spread of them
    assert {url: a.status_code for url, a in answers.items()} == dict.fromkeys(answers, 302)
    assert all(a["Location"].startswith("/admin/login/") for a in answers.values())
