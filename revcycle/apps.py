from django.apps import AppConfig


class RevcycleConfig(AppConfig):
    name = "revcycle"
    verbose_name = "revcycle core"

    def ready(self) -> None:
        from revcycle import checks, logs, schedules, signals  # noqa: F401  (checks, receivers)
        from revcycle.audit import PhiPage, register_phi_pages

        schedules.register(schedules.Recurring(
            "uploads: refuse files no worker read", "revcycle.tasks.refuse_stale_reads", 10))
        logs.connect()
        register_phi_pages(
            PhiPage("encounters"),
            PhiPage("encounter_detail", "revcycle.encounter"),
        )
