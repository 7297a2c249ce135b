from django.contrib import admin

from payer.models import ClaimEvent, PayerClaim, WebhookDelivery


class ClaimEventInline(admin.TabularInline):
    model = ClaimEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "status", "source", "message")


@admin.register(PayerClaim)
class PayerClaimAdmin(admin.ModelAdmin):
    list_display = ("reference", "claim_id", "status", "facility", "connection", "amount",
                    "created_at")
    list_filter = ("status", "connection", "facility")
    search_fields = ("reference", "claim_id", "account_number")
    # The payer's raw answer and the request are encrypted and hold PHI: not shown here.
    exclude = ("response",)
    readonly_fields = ("ticket", "encounter", "created_by", "resend_confirmed_by",
                       "resend_confirmed_at", "status_changed_at")
    inlines = [ClaimEventInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every delivery to a payer webhook endpoint, accepted or refused and why."""

    list_display = ("received_at", "connection", "outcome", "http_status", "reason",
                    "payer_claim_id", "new_status", "signed_by", "event_key")
    list_filter = ("outcome", "connection", "signed_by")
    search_fields = ("payer_claim_id", "event_key")

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
