from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "claims"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from claims import export, flow
        from revcycle import batches

        flow.register()
        batches.register(export.SPEC)
