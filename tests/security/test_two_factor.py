"""Two-factor authentication (django-otp, TOTP): required for admins and managers before
any page, optional for billers, recovery codes that work once, and an audited admin reset."""

from __future__ import annotations

from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from revcycle import twofactor
from revcycle.models import AuditEvent
from tests.conftest import totp_now


def _code(device: TOTPDevice) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"


def test_a_manager_without_a_device_is_sent_to_set_one_up_before_any_page(client, maya,
                                                                          encounter):
    client.force_login(maya)
    for path in ("/", "/encounters/", "/audit/", f"/encounters/{encounter.pk}/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("twofactor_setup")), path
    assert client.get("/encounters/", HTTP_HX_REQUEST="true")["HX-Redirect"].startswith(
        reverse("twofactor_setup"))


def test_a_manager_enrols_with_a_real_code_and_gets_recovery_codes(client, maya):
    client.force_login(maya)
    page = client.get(reverse("twofactor_setup"))
    assert b"otpauth://totp/" in page.content
    device = TOTPDevice.objects.get(user=maya, confirmed=False)
    response = client.post(reverse("twofactor_setup"), {"token": _code(device), "next": "/"})
    assert response.status_code == 200 and len(response.context["codes"]) == 10
    assert TOTPDevice.objects.get(user=maya).confirmed
    assert client.get("/audit/").status_code == 200
    assert AuditEvent.objects.filter(username="maya", detail__contains="enrolled").exists()


def test_an_admin_with_a_device_must_enter_a_code_and_a_wrong_one_is_refused(client, ada):
    totp_now(ada)  # she has an authenticator
    client.force_login(ada)
    assert client.get("/admin/")["Location"].startswith(reverse("twofactor_verify"))
    wrong = client.post(reverse("twofactor_verify"), {"token": "000000"})
    assert wrong.status_code == 200 and client.get("/admin/").status_code == 302
    # A failure throttles the device for a second; the test clears that instead of waiting.
    assert TOTPDevice.objects.get(user=ada).throttling_failure_count == 1
    code = totp_now(ada)
    assert client.post(reverse("twofactor_verify"), {"token": code}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_biller_is_not_asked_for_a_second_factor(client, alice):
    client.force_login(alice)
    assert client.get("/encounters/").status_code == 200


def test_a_biller_who_enrolled_is_asked_for_it_at_the_next_sign_in(client, alice):
    totp_now(alice)  # she enrolled an authenticator on the setup page
    client.force_login(alice)
    assert client.get("/encounters/")["Location"].startswith(reverse("twofactor_verify"))


def test_a_recovery_code_works_once(client, maya):
    totp_now(maya)
    codes = twofactor.new_recovery_codes(maya)
    client.force_login(maya)
    assert client.post(reverse("twofactor_verify"), {"token": codes[0]}).status_code == 302
    assert client.get("/audit/").status_code == 200
    client.logout()
    client.force_login(maya)
    assert client.post(reverse("twofactor_verify"), {"token": codes[0]}).status_code == 200
    assert client.get("/audit/").status_code == 302


def test_an_admin_resets_a_users_devices_and_it_is_audited(client_for, ada, maya):
    totp_now(maya)
    twofactor.new_recovery_codes(maya)
    response = client_for(ada).post("/admin/auth/user/", {
        "action": "reset_two_factor", "_selected_action": [maya.pk]})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=maya).exists()
    assert not StaticDevice.objects.filter(user=maya).exists()
    event = AuditEvent.objects.get(detail__contains="two-factor devices reset")
    assert (event.username, event.object_id) == ("ada", str(maya.pk))


def test_the_device_admins_of_django_otp_are_not_offered(client_for, ada):
    assert client_for(ada).get("/admin/otp_totp/totpdevice/").status_code == 404


def test_the_demo_device_lets_the_demo_admin_in_with_its_secret(client, ada):
    url, codes = twofactor.demo_device(ada)
    assert url.startswith("otpauth://totp/") and len(codes) == 10
    client.force_login(ada)
    assert client.post(reverse("twofactor_verify"), {"token": codes[1]}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_demo_setup_prints_a_way_in_for_managers_and_admins_only(maya, ada, alice):
    lines = "\n".join(twofactor.demo_setup_lines(["maya", "ada", "alice"]))
    assert "maya" in lines and "ada" in lines and "alice" not in lines
    assert lines.count("otpauth://totp/") == 2
    first_url = TOTPDevice.objects.get(user=ada).config_url
    twofactor.demo_setup_lines(["ada"])  # run again: the same authenticator goes on working
    assert TOTPDevice.objects.get(user=ada).config_url == first_url
