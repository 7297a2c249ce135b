from django.apps import AppConfig


class RevcycleConfig(AppConfig):
    name = "revcycle"
    verbose_name = "revcycle core"

    def ready(self) -> None:
        from revcycle import checks, signals  # noqa: F401  (registers checks and receivers)
