from django.contrib import admin

from followup.models import (
    DigestSent,
    FollowUp,
    Note,
    NotificationPreference,
    RecheckPolicy,
    RecheckRun,
    SavedView,
)


@admin.register(RecheckPolicy)
class RecheckPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "enabled", "max_age_days", "chunk_size", "updated_at")

    def has_add_permission(self, request: object) -> bool:
        return not RecheckPolicy.objects.exists()

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(RecheckRun)
class RecheckRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "finished_at", "considered", "requeued", "skipped_reason")
    readonly_fields = list_display


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ("ticket", "assignee", "status", "resolved_reason", "updated_at")
    list_filter = ("status",)
    raw_id_fields = ("ticket", "assignee", "resolved_by")


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("encounter", "ticket", "author", "created_at")
    raw_id_fields = ("encounter", "ticket", "author")


admin.site.register([SavedView, NotificationPreference, DigestSent])
