"""Smart sessions, members, invoices and their history; activating a session for a visit
(activate_smart_session); and the record of sessions that expired."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from revcycle import errors
from revcycle.admin import FACILITY_INLINES
from revcycle.audit import record_event
from smartlink import visits
from smartlink.models import (
    InvoiceEvent,
    SmartBenefit,
    SmartFacility,
    SmartInvoice,
    SmartMember,
    SmartSession,
)


class SmartFacilityInline(admin.StackedInline):
    model = SmartFacility
    can_delete = False


FACILITY_INLINES.append(SmartFacilityInline)


class EventInline(admin.TabularInline):
    model = InvoiceEvent
    fields = ("at", "user", "action", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VisitNumberForm(forms.Form):
    visit_number = forms.CharField(max_length=100, label="Hospital visit (encounter) number")


@admin.register(SmartSession)
class SmartSessionAdmin(admin.ModelAdmin):
    list_display = ("session_id", "patient_number", "facility", "status", "opened_at",
                    "expires_at", "visit_number", "activated_by", "renewal_requested_at")
    list_filter = ("status", "facility")
    search_fields = ("session_id", "patient_number", "visit_number")
    readonly_fields = ("connection", "facility", "session_id", "patient_number", "opened_at",
                       "expires_at", "activated_by", "activated_at", "expired_at", "created_at")
    actions = ["activate_for_visit"]
    inlines = [EventInline]

    @admin.action(description="Activate the selected session for a visit")
    def activate_for_visit(self, request: HttpRequest, queryset: QuerySet[SmartSession]
                           ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one session: a session is merged with "
                              "one visit.", messages.ERROR)
            return None
        session = queryset.get()
        form = VisitNumberForm(request.POST if "visit_number" in request.POST else None)
        if form.is_valid():
            try:
                # visits.activate checks the permission, for the desk and this action alike.
                visits.activate(session, form.cleaned_data["visit_number"], request.user)
                visits.refresh_member(session, request.user)
            except PermissionDenied as exc:
                self.message_user(request, str(exc), messages.ERROR)
            except visits.SessionProblem as exc:
                self.message_user(request, exc.message, messages.ERROR)
            except errors.ApiError as exc:
                self.message_user(request, f"Smart: {exc.message}", messages.ERROR)
            else:
                record_event(request, "change", session, detail="session activated (admin)")
                self.message_user(request, f"Session {session.session_id} is active for visit "
                                  f"{session.visit_number}.")
            return None
        return render(request, "admin/smartlink/activate_session.html", {
            **self.admin_site.each_context(request), "title": "Activate a Smart session",
            "session": session, "form": form, "action": "activate_for_visit",
            "opts": self.model._meta})


class ExpiredSession(SmartSession):
    class Meta:
        proxy = True
        verbose_name = "expired session"
        verbose_name_plural = "expired sessions (requested again)"


@admin.register(ExpiredSession)
class ExpiredSessionAdmin(admin.ModelAdmin):
    list_display = ("session_id", "patient_number", "facility", "opened_at", "expired_at",
                    "renewal_requested_at", "renewal_requested_by")
    list_filter = ("facility",)
    search_fields = ("session_id", "patient_number")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SmartSession]:
        return super().get_queryset(request).filter(status=SmartSession.Status.EXPIRED)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class BenefitInline(admin.TabularInline):
    model = SmartBenefit
    extra = 0
    readonly_fields = ("benefit_id", "name", "limit", "balance")
    can_delete = False


@admin.register(SmartMember)
class SmartMemberAdmin(admin.ModelAdmin):
    list_display = ("__str__", "scheme", "insurer", "fetched_at")
    exclude = ("raw", "member_number")
    readonly_fields = ("session", "first_name", "last_name", "date_of_birth", "gender",
                       "scheme", "insurer", "fetched_at")
    inlines = [BenefitInline]


@admin.register(SmartInvoice)
class SmartInvoiceAdmin(admin.ModelAdmin):
    list_display = ("invoice_number", "facility", "visit_number", "benefit_name",
                    "total_amount", "status", "posted_at", "billed_at", "diagnosis_pending")
    list_filter = ("status", "facility", "diagnosis_pending")
    search_fields = ("invoice_number", "visit_number")
    exclude = ("member_number",)
    readonly_fields = ("connection", "facility", "session", "invoice_number", "visit_number",
                       "patient_number", "smart_benefit", "benefit_id", "benefit_name",
                       "benefit_balance", "invoice_date", "lines", "diagnoses", "total_amount",
                       "copay_amount", "copay_from_smart", "status", "smart_claim_id",
                       "last_error", "sent_at", "posted_at", "billed_at", "last_checked_at",
                       "diagnosis_pending", "diagnosis_sent_at", "override_reason", "ticket",
                       "created_by", "not_billed_reason_by", "not_billed_reason_at")
    inlines = [EventInline]
