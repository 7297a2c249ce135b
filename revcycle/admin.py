"""Admin: connections (write-only secrets, test connection, audited switch to P),
facilities, encounters, and read-only tickets, tokens and the audit log."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from revcycle import api, oauth, twofactor
from revcycle.audit import record_event
from revcycle.logfilters import redact
from revcycle.models import (
    AuditEvent,
    Batch,
    CodeDescription,
    Connection,
    ConnectionMinute,
    Encounter,
    Facility,
    OAuthToken,
    Ticket,
)
from revcycle.roles import can_see_full_ssn, has_perm

SECRET_FIELDS = ("client_secret", "password", "api_key", "webhook_secret")
CREDENTIAL_FIELDS = ("base_url", "token_path", "client_id", "client_secret", "username",
                     "password")
admin.site.site_header = "revcycle administration"
admin.site.site_title = "revcycle admin"


class ConnectionForm(forms.ModelForm):
    """Secrets are write-only: never shown back, kept when left blank."""

    class Meta:
        model = Connection
        exclude = ["flagged_at", "flagged_reason", "backoff_until", "last_health_ok",
                   "last_health_message", "last_health_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            field = self.fields[name]
            is_set = bool(self.instance.pk and getattr(self.instance, name))
            # No stored secret as the initial value: a blank field then counts as unchanged.
            self.initial.pop(name, None)
            self.fields[name] = forms.CharField(
                required=False, label=field.label, widget=forms.PasswordInput(render_value=False),
                help_text="Set — leave blank to keep it." if is_set else "Not set.",
            )
        self.fields["environment"].help_text = (
            "T returns test data. Switching to P (production) needs the admin role, a "
            "confirmation, and is recorded in the audit log."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in SECRET_FIELDS:
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(Connection.objects.get(pk=self.instance.pk), name)
        return data


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ("name", "kind", "environment", "base_url", "active", "health", "flagged")
    list_filter = ("kind", "environment", "active")
    actions = ["test_connection", "clear_flags"]
    readonly_fields = ("last_health_ok", "last_health_message", "last_health_at", "flagged_at",
                       "flagged_reason")
    filter_horizontal = ("facilities",)

    @admin.display(description="health")
    def health(self, obj: Connection) -> str:
        # A hold outranks a green health check: the engine sends nothing until it is cleared.
        if obj.is_flagged:
            return f"on hold since {obj.flagged_at:%Y-%m-%d %H:%M}: {obj.flagged_reason}"
        if obj.last_health_ok is None:
            return "not checked"
        state = "ok" if obj.last_health_ok else "failing"
        return f"{state} ({obj.last_health_at:%Y-%m-%d %H:%M})"

    @admin.display(description="on hold", boolean=True)
    def flagged(self, obj: Connection) -> bool:
        return obj.is_flagged

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, "manage_connections")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_perm(request.user, "manage_connections")

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission

    @admin.action(description="Test connection (health check, then a token)")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            ok, message = api.health_check(connection)
            self.message_user(request, f"{connection.name}: {message}",
                              messages.SUCCESS if ok else messages.ERROR)
            record_event(request, "change", connection,
                         detail=f"test connection: {'ok' if ok else 'failed'}")

    @admin.action(description="Clear the hold (after fixing credentials or the IP allow-list)")
    def clear_flags(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            connection.clear_flag()
            oauth.forget(connection.pk)
            record_event(request, "change", connection, detail="cleared hold")
        self.message_user(request, "Held work resumes within a few seconds.")

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """Reaching P (a switch, an add, or "Save as new" of a P connection) takes two steps
        and the switch_environment permission: the form is saved in T, secrets included,
        then a confirmation page that carries nothing but the connection's id switches it.
        A typed secret never travels back to the browser in a hidden input."""
        if request.method == "POST" and request.POST.get("environment") == "P":
            current = Connection.objects.filter(pk=object_id).first() if object_id else None
            becomes_p = (current is None or "_saveasnew" in request.POST
                         or current.environment != "P")
            if becomes_p:
                if not has_perm(request.user, "switch_environment"):
                    messages.error(request, "Only an admin may switch a connection to production.")
                    return HttpResponse(status=403)
                request.POST = request.POST.copy()
                request.POST["environment"] = "T"
                response = super().changeform_view(request, object_id, form_url, extra_context)
                saved = getattr(request, "_saved_connection", None)
                if saved is not None and response.status_code == 302:
                    return redirect("admin:revcycle_connection_production", saved.pk)
                return response
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[Any]:
        confirm = path("<int:pk>/production/", self.admin_site.admin_view(self.production_view),
                       name="revcycle_connection_production")
        return [confirm, *super().get_urls()]

    def production_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Step two of reaching P: confirm, by the connection's id alone."""
        if not has_perm(request.user, "switch_environment"):
            raise PermissionDenied("Only an admin may switch a connection to production.")
        connection = get_object_or_404(Connection, pk=pk)
        if request.method == "POST" and request.POST.get("confirm_production") == "yes":
            if connection.environment != "P":
                before = connection.environment
                connection.environment = "P"
                connection.save(update_fields=["environment"])
                oauth.forget(connection.pk)
                record_event(request, "change", connection,
                             detail=f"environment {before} -> P (confirmed)")
            self.message_user(request, f"{connection.name} now uses production (P).")
            return redirect("admin:revcycle_connection_changelist")
        return render(request, "admin/revcycle/confirm_production.html", {
            **self.admin_site.each_context(request), "connection": connection,
            "title": "Switch to production?", "opts": self.model._meta,
        })

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        before = Connection.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        request._saved_connection = obj  # type: ignore[attr-defined]  # for step two to P
        # A token (and a rotating refresh token) belongs to the old credentials.
        if set(form.changed_data) & set(CREDENTIAL_FIELDS):
            oauth.discard(obj.pk)
        else:
            oauth.forget(obj.pk)
        changed = [f for f in form.changed_data if f not in SECRET_FIELDS]
        secrets = [f for f in form.changed_data if f in SECRET_FIELDS and form.cleaned_data.get(f)]
        detail = f"fields: {', '.join(changed)}"
        if secrets:
            detail += f"; secrets replaced: {', '.join(secrets)}"
        if before and before.environment != obj.environment:
            detail = f"environment {before.environment} -> {obj.environment}; " + detail
        record_event(request, "change" if change else "create", obj, detail=detail)


# A service app adds its per-facility settings here from its admin.py (an inline), so the
# facility page shows them without the core naming the service.
FACILITY_INLINES: list[type[admin.options.InlineModelAdmin]] = []


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ("name", "npi", "tax_id", "time_zone")
    filter_horizontal = ("members",)

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return [*self.inlines, *FACILITY_INLINES]


@admin.register(Encounter)
class EncounterAdmin(admin.ModelAdmin):
    list_display = ("account_number", "patient_last_name", "patient_first_name", "payer_name",
                    "service_date_from", "facility")
    search_fields = ("account_number", "patient_last_name")
    list_filter = ("facility",)
    exclude = ("patient_ssn", "subscriber_ssn")
    readonly_fields = ("masked_ssn",)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "state", "outcome", "account_number", "connection",
                    "attempts", "polls", "last_http_status", "created_at")
    list_filter = ("kind", "state", "outcome", "connection")
    search_fields = ("account_number", "remote_id")
    exclude = ("lease_owner",)

    # The request and answer carry SSNs: shown with SSN-shaped text masked to anyone
    # without the full-SSN permission (issue 14, #3).
    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        if can_see_full_ssn(request.user):
            return self.exclude
        return (*self.exclude, "request", "response")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if can_see_full_ssn(request.user) else ("masked_request", "masked_response")

    @admin.display(description="request")
    def masked_request(self, obj: Ticket) -> str:
        return redact(json.dumps(obj.request, indent=2, default=str))

    @admin.display(description="response")
    def masked_response(self, obj: Ticket) -> str:
        return redact(json.dumps(obj.response, indent=2, default=str))


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "filename", "ticket_count", "invalid_rows", "created_by",
                    "created_at")


@admin.register(OAuthToken)
class OAuthTokenAdmin(ReadOnlyAdmin):
    list_display = ("connection", "expires_at", "obtained_at", "requests_made")
    exclude = ("access_token", "refresh_token")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "action", "object_type", "object_id", "detail")
    list_filter = ("action", "object_type")
    search_fields = ("username", "object_id")


@admin.register(CodeDescription)
class CodeDescriptionAdmin(admin.ModelAdmin):
    list_display = ("code_set", "code", "description", "effective_date", "deactivation_date")
    list_filter = ("code_set",)
    search_fields = ("code", "description")


@admin.register(ConnectionMinute)
class ConnectionMinuteAdmin(admin.ModelAdmin):
    list_display = ("connection", "minute", "requests", "errors")
    list_filter = ("connection",)


# Second factors are managed through the users, where a reset is audited; django-otp's own
# device admins would let an admin delete or read a device's key without a trace.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)
admin.site.unregister(User)


@admin.register(User)
class RevcycleUserAdmin(UserAdmin):
    actions = ["reset_two_factor"]

    @admin.action(description="Reset two-factor devices (lost phone): enrol again at sign-in")
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            removed = twofactor.reset_devices(request, user)
            self.message_user(request, f"{user.username}: {removed} device(s) removed.")
