from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = "follow-up"

    def ready(self) -> None:
        from followup import signals  # noqa: F401  (admin permissions after migrate)
        from revcycle import schedules
        from revcycle.audit import PhiPage, register_phi_pages

        schedules.register(schedules.Recurring(
            "follow-up: scheduled claim re-checks", "followup.tasks.run_rechecks", 15))
        schedules.register(schedules.Recurring(
            "follow-up: daily digest", "followup.tasks.send_daily_digests", 1440))
        # Pages showing patients: they need view_results, and each read is audited.
        register_phi_pages(
            PhiPage("followup:worklist"),
            PhiPage("followup:account", "revcycle.encounter", pk_kwarg="encounter_id"),
            PhiPage("followup:dashboard"),
        )
