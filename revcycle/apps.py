from django.apps import AppConfig


class RevcycleConfig(AppConfig):
    name = "revcycle"
    verbose_name = "revcycle core"

    def ready(self) -> None:
        from revcycle import checks, schedules, signals  # noqa: F401  (checks and receivers)

        schedules.register(schedules.KEEP_PUMPS)
