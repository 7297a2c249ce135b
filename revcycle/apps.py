from django.apps import AppConfig


class RevcycleConfig(AppConfig):
    name = "revcycle"
    verbose_name = "revcycle core"

    def ready(self) -> None:
        from revcycle import checks, logs, schedules, signals  # noqa: F401  (checks, receivers)

        schedules.register(schedules.KEEP_PUMPS)
        logs.connect()
