"""Two-factor authentication with django-otp: an authenticator app (TOTP) and one-time
recovery codes (django-otp's static device).

Admins and managers must verify a second factor before any page (TwoFactorMiddleware);
billers may enrol, and once they have they verify too. An admin resets a person's devices
from the user admin, and the reset is audited.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from revcycle.audit import record_event
from revcycle.roles import ADMIN, MANAGER, role_names

RECOVERY_CODES = 10
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"
# Pages a person who still owes a second factor may reach.
EXEMPT_VIEWS = {"login", "logout", "twofactor_verify", "twofactor_setup", "admin:login",
                "admin:logout"}


def required(user: Any) -> bool:
    """Admins and managers must use a second factor; anyone who enrolled one uses it."""
    return bool(role_names(user) & {ADMIN, MANAGER}) or has_device(user)


def has_device(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def next_step_url(user: Any, next_path: str) -> str:
    name = "twofactor_verify" if has_device(user) else "twofactor_setup"
    return f"{reverse(name)}?{urlencode({'next': next_path})}"


def new_recovery_codes(user: Any) -> list[str]:
    """Replace the user's recovery codes: each works once."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_NAME,
                                                   defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def reset_devices(request: Any, user: Any) -> int:
    """Remove every second factor of `user` (a lost phone): they enrol again at their next
    sign-in if their role requires it. Audited."""
    with transaction.atomic():
        count = TOTPDevice.objects.filter(user=user).delete()[0]
        count += StaticDevice.objects.filter(user=user).delete()[0]
        record_event(request, "change", user, object_type="auth.user", object_id=str(user.pk),
                     detail=f"two-factor devices reset ({count} removed)")
    return count


def demo_device(user: Any) -> tuple[str, list[str]]:
    """For `make demo`: a confirmed authenticator (kept if there is one, so a phone that
    scanned it goes on working) and fresh recovery codes for `user`. Returns the otpauth
    URL and the codes."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or \
        TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=True)
    return device.config_url, new_recovery_codes(user)


def demo_setup_lines(usernames: list[str]) -> list[str]:
    """What demo_setup prints so the demo's manager and admin can pass the second factor:
    each one's otpauth URL (for an authenticator app) and recovery codes (no phone needed)."""
    from django.contrib.auth.models import User

    lines = ["Second factor for the demo's managers and admins (authenticator URL, or type "
             "one recovery code; each code works once):"]
    for user in User.objects.filter(username__in=usernames).order_by("username"):
        if not required(user):
            continue
        url, codes = demo_device(user)
        lines += [f"  {user.username:<8} {url}", f"  {'':<8} recovery codes: {' '.join(codes)}"]
    return lines


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return reverse("home")


class TokenForm(forms.Form):
    token = forms.CharField(label="Code", max_length=16, widget=forms.TextInput(
        attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}))


@sensitive_post_parameters("token")
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The code from the authenticator app, or one recovery code."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"].replace(" ", ""))
        if device is not None:
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                record_event(request, "login", detail="second factor: recovery code used")
            return redirect(_safe_next(request))
        form.add_error("token", "That code is not valid (or was used already). Try the next one.")
    return render(request, "registration/twofactor_verify.html",
                  {"form": form, "next": _safe_next(request)})


@sensitive_post_parameters("token")
@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator: scan or type the key, then prove it with one code."""
    user: Any = request.user
    if has_device(user) and not user.is_verified():
        return redirect(next_step_url(user, _safe_next(request)))
    device = (TOTPDevice.objects.filter(user=user, confirmed=False).first()
              or TOTPDevice(user=user, name=TOTP_NAME, confirmed=False, key=_random_key()))
    if device.pk is None:
        device.save()
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].replace(" ", "")):
            with transaction.atomic():
                TOTPDevice.objects.filter(user=user, confirmed=True).delete()
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                codes = new_recovery_codes(user)
                record_event(request, "change", user, object_type="auth.user",
                             object_id=str(user.pk), detail="two-factor authenticator enrolled")
            otp_login(request, device)
            messages.success(request, "Two-factor authentication is on.")
            return render(request, "registration/twofactor_codes.html",
                          {"codes": codes, "next": _safe_next(request)})
        form.add_error("token", "That code does not match. Check the phone's clock and retry.")
    return render(request, "registration/twofactor_setup.html", {
        "form": form, "next": _safe_next(request), "otpauth_url": device.config_url,
        "key": _base32(device), "required": required(user),
    })


def _random_key() -> str:
    return secrets.token_hex(20)


def _base32(device: TOTPDevice) -> str:
    from base64 import b32encode

    raw = b32encode(device.bin_key).decode()
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))
